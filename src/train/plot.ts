// An SVG chart of a training run: loss on the left panel, accuracies on the right, drawn from
// the metrics records with plain string building.

export interface PlotPoint {
  step: number;
  value: number;
}

export interface PlotSeries {
  label: string;
  color: string;
  points: PlotPoint[];
  /** Evaluation series are drawn as dots, training series as lines. */
  dots?: boolean;
}

const PANEL = { width: 420, height: 260, left: 56, right: 16, top: 34, bottom: 40 };

/** Renders two panels side by side: the loss series and the accuracy series (0 to 1). */
export function renderTrainingPlot(title: string, loss: PlotSeries[], accuracy: PlotSeries[]): string {
  const width = 2 * PANEL.width;
  const height = PANEL.height + 30;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="16" text-anchor="middle" font-size="13">${escapeXml(title)}</text>`,
    panel(0, 'loss', loss, null),
    panel(PANEL.width, 'accuracy', accuracy, [0, 1]),
    '</svg>',
    '',
  ].join('\n');
}

function panel(x0: number, yLabel: string, series: PlotSeries[], fixedRange: [number, number] | null): string {
  const points = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.value));
  const plotWidth = PANEL.width - PANEL.left - PANEL.right;
  const plotHeight = PANEL.height - PANEL.top - PANEL.bottom;
  const maxStep = Math.max(1, ...points.map((p) => p.step));
  const [low, high] = fixedRange ?? valueRange(points);

  const sx = (step: number) => x0 + PANEL.left + (step / maxStep) * plotWidth;
  const sy = (value: number) => PANEL.top + plotHeight - ((value - low) / (high - low || 1)) * plotHeight;

  const parts = [
    `<rect x="${x0 + PANEL.left}" y="${PANEL.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999"/>`,
    `<text x="${x0 + 14}" y="${PANEL.top + plotHeight / 2}" transform="rotate(-90 ${x0 + 14} ${PANEL.top + plotHeight / 2})" text-anchor="middle">${yLabel}</text>`,
    `<text x="${x0 + PANEL.left + plotWidth / 2}" y="${PANEL.height - 6}" text-anchor="middle">step</text>`,
    ...ticks(low, high).map((value) => `<text x="${x0 + PANEL.left - 4}" y="${sy(value) + 4}" text-anchor="end">${formatTick(value)}</text>`),
    `<text x="${sx(0)}" y="${PANEL.top + plotHeight + 14}" text-anchor="middle">0</text>`,
    `<text x="${sx(maxStep)}" y="${PANEL.top + plotHeight + 14}" text-anchor="middle">${maxStep}</text>`,
  ];

  series.forEach((s, index) => {
    const finite = s.points.filter((p) => Number.isFinite(p.value));
    if (s.dots) {
      for (const p of finite) parts.push(`<circle cx="${sx(p.step).toFixed(1)}" cy="${sy(p.value).toFixed(1)}" r="3" fill="${s.color}"/>`);
    } else if (finite.length > 0) {
      const path = finite.map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p.step).toFixed(1)},${sy(p.value).toFixed(1)}`).join(' ');
      parts.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
    }
    const legendY = PANEL.top + 12 + 14 * index;
    parts.push(`<rect x="${x0 + PANEL.left + 8}" y="${legendY - 8}" width="10" height="10" fill="${s.color}"/>`);
    parts.push(`<text x="${x0 + PANEL.left + 22}" y="${legendY + 1}">${escapeXml(s.label)}</text>`);
  });
  return parts.join('\n');
}

function valueRange(points: PlotPoint[]): [number, number] {
  if (points.length === 0) return [0, 1];
  const values = points.map((p) => p.value);
  const low = Math.min(0, ...values);
  const high = Math.max(...values);
  return [low, high > low ? high : low + 1];
}

function ticks(low: number, high: number): number[] {
  return [0, 0.25, 0.5, 0.75, 1].map((fraction) => low + fraction * (high - low));
}

function formatTick(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
