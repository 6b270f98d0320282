// An SVG chart of ours vs the peer per kernel: two bars per kernel on a log scale of
// milliseconds, one section per runtime and batch, and one per runtime for the whole training
// steps. Plain string building, no dependency.
import { compare, peerLabel, stepCaseName, type BenchReport, type Comparison, type RuntimeReport } from './report.js';

const WIDTH = 960;
const LABEL_WIDTH = 330;
const BAR_WIDTH = 470;
const ROW_HEIGHT = 30;
const BAR_HEIGHT = 11;
const SECTION_GAP = 56;
const COLORS = { ours: '#2f6fb5', peer: '#e0892b', grid: '#d0d0d0', text: '#222' };

/** One pair of bars: each side's seconds by the method the ratio uses. */
interface ChartRow {
  name: string;
  ours: number;
  peer: number;
  ratio: number;
  method: Comparison['method'];
}

interface Section {
  title: string;
  peer: string;
  rows: ChartRow[];
}

export function renderChart(report: BenchReport): string {
  const sections = chartSections(report);
  const rows = sections.reduce((total, section) => total + section.rows.length, 0);
  const height = 60 + sections.length * SECTION_GAP + rows * ROW_HEIGHT;
  const scale = logScale(sections.flatMap((section) => section.rows.flatMap((row) => [row.ours, row.peer])));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="12" fill="${COLORS.text}">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="24" font-size="16">trm-webgpu vs ${escape(peerLabel(report.runtimes[0]?.peer ?? null))}: time per kernel run and per training step (ms, log scale; shorter is faster)</text>`,
    legend(peerLabel(report.runtimes[0]?.peer ?? null)),
  ];
  let y = 60;
  for (const section of sections) {
    parts.push(...renderSection(section, y, scale));
    y += SECTION_GAP + section.rows.length * ROW_HEIGHT;
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function chartSections(report: BenchReport): Section[] {
  return report.runtimes.flatMap((runtime) => [
    ...runtime.batches.map((batch) => ({
      title: `${runtime.runtime} (${runtime.platform}), batch ${batch}`,
      peer: peerLabel(runtime.peer),
      rows: compare(runtime.results).filter((row) => row.batch === batch).map(kernelRow),
    })),
    { title: `${runtime.runtime}: whole TRM-MLP training step (wall clock)`, peer: peerLabel(runtime.peer), rows: stepRows(runtime) },
  ]).filter((section) => section.rows.length > 0);
}

function kernelRow(comparison: Comparison): ChartRow {
  const { ours, peer, method } = comparison;
  const pick = (side: typeof ours) => (method === 'timestamp' ? side.timing!.gpuSeconds! : side.timing!.wallSeconds);
  return { name: comparison.name, ours: pick(ours), peer: pick(peer), ratio: comparison.ratio, method };
}

function stepRows(runtime: RuntimeReport): ChartRow[] {
  return runtime.trainer.flatMap((result) => {
    if (!result.step || !result.peer?.step || result.stepRatio === null) return [];
    return [{ name: stepCaseName(result), ours: result.step.wallSeconds, peer: result.peer.step.wallSeconds, ratio: result.stepRatio, method: 'wall' as const }];
  });
}

function legend(peer: string): string {
  const x = WIDTH - 330;
  return [
    `<rect x="${x}" y="36" width="12" height="${BAR_HEIGHT}" fill="${COLORS.ours}"/><text x="${x + 16}" y="46">ours</text>`,
    `<rect x="${x + 60}" y="36" width="12" height="${BAR_HEIGHT}" fill="${COLORS.peer}"/><text x="${x + 76}" y="46">${escape(peer)}</text>`,
    `<text x="${x + 190}" y="46">ratio = ours / theirs</text>`,
  ].join('');
}

interface Scale {
  low: number;
  high: number;
  x(seconds: number): number;
}

function logScale(values: number[]): Scale {
  const finite = values.filter((value) => value > 0 && Number.isFinite(value)).map((value) => Math.log10(value * 1e3));
  const low = Math.floor(Math.min(...finite, 0));
  const high = Math.max(low + 1, Math.ceil(Math.max(...finite, 1)));
  return { low, high, x: (value) => LABEL_WIDTH + ((Math.log10(value * 1e3) - low) / (high - low)) * BAR_WIDTH };
}

function renderSection(section: Section, top: number, scale: Scale): string[] {
  const bottom = top + 16 + section.rows.length * ROW_HEIGHT;
  const parts = [`<text x="12" y="${top}" font-size="14" font-weight="bold">${escape(section.title)}</text>`];
  for (let decade = scale.low; decade <= scale.high; decade++) {
    const x = scale.x(10 ** decade / 1e3);
    parts.push(`<line x1="${x}" y1="${top + 8}" x2="${x}" y2="${bottom}" stroke="${COLORS.grid}"/>`);
    parts.push(`<text x="${x}" y="${bottom + 14}" text-anchor="middle" font-size="10">${formatDecade(decade)} ms</text>`);
  }
  section.rows.forEach((row, index) => parts.push(...renderRow(row, top + 16 + index * ROW_HEIGHT, scale)));
  return parts;
}

function renderRow(row: ChartRow, y: number, scale: Scale): string[] {
  const bar = (side: 'ours' | 'peer', offset: number) => {
    const width = Math.max(1, scale.x(row[side]) - LABEL_WIDTH);
    return `<rect x="${LABEL_WIDTH}" y="${y + offset}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${COLORS[side]}"/>`;
  };
  const ratioColor = row.ratio <= 1 ? '#2a7a2a' : '#b02a2a';
  return [
    `<text x="${LABEL_WIDTH - 8}" y="${y + 15}" text-anchor="end">${escape(row.name)}</text>`,
    bar('ours', 2),
    bar('peer', 2 + BAR_HEIGHT + 1),
    `<text x="${LABEL_WIDTH + BAR_WIDTH + 12}" y="${y + 15}" fill="${ratioColor}">${row.ratio.toFixed(2)} (${row.method === 'timestamp' ? 'timestamps' : 'wall clock'})</text>`,
  ];
}

function formatDecade(decade: number): string {
  return decade >= 0 ? String(10 ** decade) : (10 ** decade).toFixed(-decade);
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
