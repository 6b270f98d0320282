// The benchmark's results as data (written with --json) and as terminal tables.
import { describeAdapter } from '../src/gpu/device.js';
import type { AdapterSummary } from '../src/gpu/gpu.js';
import type { ProbeResult } from './probes.js';
import type { RuntimeName } from './runtimes.js';
import type { CaseResult } from './suite.js';
import type { PeerInfo } from './tfjs.js';
import type { PeerTrainerResult } from './tfjs-trainer.js';
import type { TrainerResult } from './trainer.js';
import type { Timing, TimingPolicy } from './timing.js';

export interface RuntimeReport {
  runtime: RuntimeName;
  platform: string;
  adapter: AdapterSummary;
  peer: PeerInfo | null;
  cpus: number;
  /** os.loadavg() (1, 5, 15 minutes) when the runtime started and when it finished. */
  loadAverage: { start: number[]; end: number[] };
  probes: { start: ProbeResult; end: ProbeResult };
  batches: number[];
  results: CaseResult[];
  trainer: TrainerEntry[];
  seconds: number;
}

/** Our trainer run and, for the mlp presets where TF.js is loaded, the peer's step at the same preset and batch. */
export interface TrainerEntry extends TrainerResult {
  peer: PeerTrainerResult | null;
  /** Our wall-clock seconds per step over the peer's (below 1: ours faster); null without both timings. */
  stepRatio: number | null;
}

export interface BenchReport {
  date: string;
  quick: boolean;
  policy: TimingPolicy;
  runtimes: RuntimeReport[];
}

const PEER_LABELS: Record<PeerInfo['name'], string> = { 'tfjs-webgpu': 'TF.js WebGPU', 'tfjs-cpu': 'TF.js CPU' };

export function peerLabel(peer: PeerInfo | null): string {
  return peer ? PEER_LABELS[peer.name] : 'TF.js';
}

export function formatHeader(report: Omit<RuntimeReport, 'results' | 'trainer' | 'seconds' | 'probes'>): string[] {
  const load = report.loadAverage.start.map((value) => value.toFixed(2)).join(' ');
  return [
    `== ${report.runtime}: ${report.platform}`,
    describeAdapter(report.adapter),
    `load average at start: ${load} (1, 5, 15 min) on ${report.cpus} CPUs`,
    ...formatPeer(report.peer),
  ];
}

function formatPeer(peer: PeerInfo | null): string[] {
  if (!peer) return ['peer: TensorFlow.js not loaded; no comparison'];
  if (peer.name === 'tfjs-webgpu') {
    return [`peer: TensorFlow.js ${peer.version}, WebGPU backend on ${peer.adapter ?? 'unknown adapter'} (${peer.timestamps ? 'kernel timestamps via tf.time' : 'no timestamps'})`];
  }
  return [
    `peer: TensorFlow.js ${peer.version} 'cpu' backend -- a different backend, because WebGPU failed:`,
    `  ${peer.webgpuError}`,
  ];
}

export function formatProbes(label: string, probes: ProbeResult): string {
  const copies = probes.copies.map((copy) => `${copy.gbps.toFixed(2)} at ${copy.bytes / 2 ** 20} MiB`).join(', ');
  return `${label}: f32 FMA peak ${probes.gflops.toFixed(2)} GFLOP/s (${describeTiming(probes.fma)}); copy ${copies} GB/s read+write`;
}

export function describeTiming(timing: Timing): string {
  return `${timing.method}, median of ${timing.repeats} × ${timing.runsPerRepeat} runs`;
}

const COLUMNS = { kernel: 46, ms: 10, wall: 10, rate: 16, peak: 10, fraction: 8 };

export function kernelTableHeader(batch: number, tokens: number): string[] {
  return [
    '',
    `kernels at batch ${batch} (${batch * tokens} tokens); ms: timestamps where the adapter has them, else wall clock`,
    `${'kernel'.padEnd(COLUMNS.kernel)}${'ms'.padStart(COLUMNS.ms)}${'wall ms'.padStart(COLUMNS.wall)}${'rate'.padStart(COLUMNS.rate)}${'peak now'.padStart(COLUMNS.peak)}${'of peak'.padStart(COLUMNS.fraction)}  variant`,
  ];
}

export function formatKernelRow(result: CaseResult): string {
  const name = result.name.padEnd(COLUMNS.kernel);
  if (!result.timing) return `${name}failed: ${result.error}`;
  const { seconds, wallSeconds } = result.timing;
  const times = `${ms(seconds).padStart(COLUMNS.ms)}${ms(wallSeconds).padStart(COLUMNS.wall)}`;
  const peak = `${(result.localPeak ?? NaN).toFixed(2).padStart(COLUMNS.peak)}${`${Math.round(100 * peakFraction(result))}%`.padStart(COLUMNS.fraction)}`;
  return `${name}${times}${formatRate(result).padStart(COLUMNS.rate)}${peak}  ${formatVariant(result)}`;
}

function formatVariant(result: CaseResult): string {
  const variant = result.variant ?? '';
  if (result.tuning === 'skipped') return `${variant} (default; tuning pass skipped in --quick)`;
  if (result.tuning === 'shared') return `${variant} (picked by the tuning pass for an earlier case of the same sizes and strides)`;
  if (result.tuning !== 'ran') return variant;
  const times = Object.entries(result.variantSeconds ?? {}).map(([name, seconds]) => `${name} ${ms(seconds)}`);
  return `${variant} (tuning pass, ${(result.tuningSeconds ?? 0).toFixed(1)} s: ${times.join(', ')} ms)`;
}

export function rate(result: CaseResult): number {
  return result.timing ? result.work / result.timing.seconds / 1e9 : NaN;
}

function formatRate(result: CaseResult): string {
  return `${rate(result).toFixed(2)} ${result.metric === 'flops' ? 'GFLOP/s' : 'GB/s'}`;
}

/** Returns the kernel's rate over the peak probed right before it, in the same unit. */
export function peakFraction(result: CaseResult): number {
  return rate(result) / (result.localPeak ?? NaN);
}

export interface Comparison {
  name: string;
  batch: number;
  ours: CaseResult;
  peer: CaseResult;
  /** Our time over the peer's, both by one method: timestamps where both have them, else wall clock. */
  ratio: number;
  method: Timing['method'];
  wallRatio: number;
}

export function compare(results: CaseResult[]): Comparison[] {
  const comparisons: Comparison[] = [];
  for (const peer of results.filter((result) => result.side === 'peer')) {
    const ours = results.find((result) => result.side === 'ours' && result.name === peer.name && result.batch === peer.batch);
    if (!ours?.timing || !peer.timing) continue;
    const both = ours.timing.gpuSeconds !== null && peer.timing.gpuSeconds !== null;
    const ratio = both ? ours.timing.gpuSeconds! / peer.timing.gpuSeconds! : ours.timing.wallSeconds / peer.timing.wallSeconds;
    comparisons.push({ name: peer.name, batch: peer.batch, ours, peer, ratio, method: both ? 'timestamp' : 'wall', wallRatio: ours.timing.wallSeconds / peer.timing.wallSeconds });
  }
  return comparisons;
}

export function formatComparisons(comparisons: Comparison[], peer: PeerInfo | null, batch: number): string[] {
  const label = peerLabel(peer);
  const lines = [
    '',
    `ours vs ${label} at batch ${batch}; ratio = our time / theirs (below 1: ours faster), same method on both sides`,
    `${'kernel'.padEnd(COLUMNS.kernel)}${'ours ms'.padStart(10)}${`${label} ms`.padStart(16)}${'ratio'.padStart(8)}  ${'method'.padEnd(10)}${'wall ratio'.padStart(10)}  note`,
  ];
  for (const c of comparisons) {
    const [oursSeconds, peerSeconds] = c.method === 'timestamp' ? [c.ours.timing!.gpuSeconds!, c.peer.timing!.gpuSeconds!] : [c.ours.timing!.wallSeconds, c.peer.timing!.wallSeconds];
    lines.push(`${c.name.padEnd(COLUMNS.kernel)}${ms(oursSeconds).padStart(10)}${ms(peerSeconds).padStart(16)}${c.ratio.toFixed(2).padStart(8)}  ${c.method.padEnd(10)}${c.wallRatio.toFixed(2).padStart(10)}  ${c.peer.note ?? ''}`);
  }
  return lines;
}

export function formatPeerFailures(results: CaseResult[]): string[] {
  return results.filter((result) => result.side === 'peer' && !result.timing).map((result) => `${result.name} (peer) failed: ${result.error}`);
}

export function formatTrainer(results: TrainerResult[]): string[] {
  if (results.length === 0) return [];
  const lines = [
    '',
    'whole steps through TrmTrainer: trainStep (one optimizer step; wall clock, steps back to back) and evaluate (all supervision steps, readback included)',
    `${'preset'.padEnd(11)}${'batch'.padStart(6)}${'step ms'.padStart(10)}${'steps/s'.padStart(9)}${'puzzles/s'.padStart(11)}${'dispatches'.padStart(12)}${'submits'.padStart(9)}${'peak MiB'.padStart(10)}${'eval ms'.padStart(10)}  sup. steps`,
  ];
  for (const result of results) lines.push(formatTrainerRow(result));
  return lines;
}

function formatTrainerRow(result: TrainerResult): string {
  const name = `${result.preset.padEnd(11)}${String(result.batch).padStart(6)}`;
  if (!result.step) return `${name}  failed: ${result.error}`;
  const numbers = [
    ms(result.step.seconds).padStart(10),
    result.stepsPerSecond.toFixed(3).padStart(9),
    result.puzzlesPerSecond.toFixed(2).padStart(11),
    result.dispatchesPerStep.toFixed(0).padStart(12),
    result.submitsPerStep.toFixed(0).padStart(9),
    (result.allocatedBytes.peak / 2 ** 20).toFixed(1).padStart(10),
    (result.evaluation ? ms(result.evaluation.seconds) : 'skipped').padStart(10),
  ];
  return `${name}${numbers.join('')}  ${result.evaluation ? result.supervisionSteps : ''}`;
}

/** Formats one row per trainer run with a peer step: "training step (preset, batch B)", our ms, the peer's ms and the ratio. */
export function formatStepComparisons(results: TrainerEntry[], peer: PeerInfo | null): string[] {
  const compared = results.filter((result) => result.peer);
  if (compared.length === 0) return [];
  const label = peerLabel(peer);
  const lines = [
    '',
    `whole TRM-MLP training step, ours vs ${label}; wall clock, steps back to back, one wait per repeat; ratio = our time / theirs (below 1: ours faster)`,
    `${'case'.padEnd(COLUMNS.kernel)}${'ours ms'.padStart(10)}${`${label} ms`.padStart(16)}${'ratio'.padStart(8)}${'speed-up'.padStart(10)}  peer losses`,
  ];
  for (const result of compared) lines.push(formatStepComparison(result));
  lines.push(`peer step: ${compared[0].peer!.note}`);
  return lines;
}

function formatStepComparison(result: TrainerEntry): string {
  const name = stepCaseName(result).padEnd(COLUMNS.kernel);
  const peer = result.peer!;
  if (!peer.step) return `${name}peer failed: ${peer.error}`;
  const ours = result.step ? ms(result.step.wallSeconds) : 'failed';
  const ratio = result.stepRatio ?? NaN;
  const losses = peer.losses.map((loss) => loss.toFixed(4)).join(' → ');
  return `${name}${ours.padStart(10)}${ms(peer.step.wallSeconds).padStart(16)}${ratio.toFixed(2).padStart(8)}${`${(1 / ratio).toFixed(2)}×`.padStart(10)}  ${losses}`;
}

export function stepCaseName(result: TrainerResult): string {
  return `training step (${result.preset}, batch ${result.batch})`;
}

export function ms(seconds: number): string {
  if (!Number.isFinite(seconds)) return '-';
  const value = seconds * 1e3;
  if (value >= 100) return value.toFixed(0);
  if (value >= 1) return value.toFixed(2);
  return value.toFixed(3);
}
