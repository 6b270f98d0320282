// How the benchmark times one op. A warm-up run gives an estimate; from it follow the runs per
// submission (enough that one wait is cheap next to them) and the repeats (the median of which
// is reported). Where the device has 'timestamp-query', every pass of the op carries
// timestampWrites in those same submissions, so one set of runs gives both the GPU's pass
// times and the wall-clock time from submit to onSubmittedWorkDone.
import { BufferUsage, foldWorkgroups, type Gpu } from '../src/gpu/gpu.js';

export interface TimingPolicy {
  /** Seconds one submission should at least last; sets the runs per submission. */
  repeatSeconds: number;
  minRepeats: number;
  maxRepeats: number;
  /** Seconds all repeats of one op may take, kept within minRepeats..maxRepeats. */
  budgetSeconds: number;
  maxRunsPerRepeat: number;
}

export type TimingMethod = 'timestamp' | 'wall';

export interface Timing {
  /** Median seconds per run: GPU timestamps where available, else wall clock. */
  seconds: number;
  method: TimingMethod;
  /** Median over repeats of the op's summed pass durations per run, from timestamp queries. */
  gpuSeconds: number | null;
  /** Median over repeats of wall-clock seconds per run, one wait per submission. */
  wallSeconds: number;
  runsPerRepeat: number;
  repeats: number;
}

/** One repeat: wall-clock and GPU-timestamp seconds for all its runs (GPU null where not measured). */
export interface RepeatSample {
  wallSeconds: number;
  gpuSeconds: number | null;
}

/** A dispatch as the op records it, replayed by the timer with timestampWrites added. */
interface CapturedPass {
  kernel: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

const QUERY_RESOLVE = 0x200;
/** The largest query set WebGPU allows. */
const MAX_QUERIES = 4096;

/** How many runs go into one submission and how many submissions are timed. */
export function planRepeats(estimateSeconds: number, policy: TimingPolicy): { runs: number; repeats: number } {
  const estimate = Math.max(estimateSeconds, 1e-6);
  const runs = clamp(Math.ceil(policy.repeatSeconds / estimate), 1, policy.maxRunsPerRepeat);
  const repeats = clamp(Math.floor(policy.budgetSeconds / (runs * estimate)), policy.minRepeats, policy.maxRepeats);
  return { runs, repeats };
}

/**
 * Times an op given as two steps: warmUp runs it once and returns the wall-clock seconds it
 * took; repeat(runs) times `runs` back-to-back runs with one wait. Used for our kernels and
 * for TensorFlow.js alike.
 */
export async function timeRepeats(warmUp: () => Promise<number>, repeat: (runs: number) => Promise<RepeatSample>, policy: TimingPolicy): Promise<Timing> {
  const estimate = await warmUp();
  const { runs, repeats } = planRepeats(estimate, policy);
  const wall: number[] = [];
  const gpu: number[] = [];
  let timestamps = true;
  for (let i = 0; i < repeats; i++) {
    const sample = await repeat(runs);
    wall.push(sample.wallSeconds / runs);
    if (sample.gpuSeconds === null) timestamps = false;
    else gpu.push(sample.gpuSeconds / runs);
  }
  const gpuSeconds = timestamps && gpu.length ? median(gpu) : null;
  const wallSeconds = median(wall);
  return { seconds: gpuSeconds ?? wallSeconds, method: gpuSeconds === null ? 'wall' : 'timestamp', gpuSeconds, wallSeconds, runsPerRepeat: runs, repeats };
}

/** Times one of our ops; encode() must record one run of it through gpu.dispatch. */
export async function timeEncoded(gpu: Gpu, encode: () => void, policy: TimingPolicy): Promise<Timing> {
  const warmUp = async () => {
    const started = performance.now();
    encode();
    await gpu.sync('benchmark warm-up');
    return (performance.now() - started) / 1000;
  };
  if (!gpu.device.features.has('timestamp-query')) return timeRepeats(warmUp, (runs) => wallRepeat(gpu, encode, runs), policy);
  const passes = captureDispatches(gpu, encode);
  const maxRunsPerRepeat = Math.min(policy.maxRunsPerRepeat, Math.floor(MAX_QUERIES / (2 * Math.max(1, passes.length))));
  return timeRepeats(warmUp, (runs) => timestampedRepeat(gpu, passes, runs), { ...policy, maxRunsPerRepeat });
}

async function wallRepeat(gpu: Gpu, encode: () => void, runs: number): Promise<RepeatSample> {
  const started = performance.now();
  for (let i = 0; i < runs; i++) encode();
  await gpu.sync('benchmark');
  return { wallSeconds: (performance.now() - started) / 1000, gpuSeconds: null };
}

/**
 * Collects the dispatches that encode() makes, without recording them. The op's bind groups
 * and pipelines stay valid, so the timer can replay them with timestampWrites, which
 * Gpu.dispatch does not take. An op that records a buffer copy throws, since the copy would go
 * untimed.
 */
export function captureDispatches(gpu: Gpu, encode: () => void): CapturedPass[] {
  const passes: CapturedPass[] = [];
  const dispatch = (kernel: string, pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, workgroups: number | [number, number, number]) => {
    const folded = typeof workgroups === 'number' ? foldWorkgroups(workgroups) : workgroups;
    if (folded.every((count) => count > 0)) passes.push({ kernel, pipeline, bindGroup, workgroups: folded });
  };
  const copy = () => {
    throw new Error('the benchmark times compute passes only; this op records a buffer copy');
  };
  const target = gpu as unknown as Record<string, unknown>;
  Object.assign(target, { dispatch, copy });
  try {
    encode();
  } finally {
    delete target.dispatch;
    delete target.copy;
  }
  return passes;
}

async function timestampedRepeat(gpu: Gpu, passes: CapturedPass[], runs: number): Promise<RepeatSample> {
  const { device } = gpu;
  const count = queryCount(runs, passes.length);
  const querySet = device.createQuerySet({ label: 'bench timestamps', type: 'timestamp', count });
  const resolved = gpu.createBuffer('bench.timestamps', count * 8, QUERY_RESOLVE | BufferUsage.COPY_SRC);
  try {
    device.pushErrorScope('validation');
    const started = performance.now();
    device.queue.submit([recordTimestamped(device, passes, runs, querySet, resolved)]);
    await device.queue.onSubmittedWorkDone();
    const wallSeconds = (performance.now() - started) / 1000;
    const error = await device.popErrorScope();
    if (error) throw new Error(`timed replay of '${passes[0]?.kernel}' failed: ${error.message}`);
    const ticks = new BigUint64Array(await gpu.read(resolved, count * 8));
    return { wallSeconds, gpuSeconds: summedPassSeconds(ticks, count) };
  } finally {
    querySet.destroy();
    gpu.destroyBuffer(resolved);
  }
}

function recordTimestamped(device: GPUDevice, passes: CapturedPass[], runs: number, querySet: GPUQuerySet, resolved: GPUBuffer): GPUCommandBuffer {
  const encoder = device.createCommandEncoder({ label: 'bench timed replay' });
  let query = 0;
  for (let run = 0; run < runs; run++) {
    for (const { kernel, pipeline, bindGroup, workgroups } of passes) {
      const timestampWrites = { querySet, beginningOfPassWriteIndex: query, endOfPassWriteIndex: query + 1 };
      const pass = encoder.beginComputePass({ label: kernel, timestampWrites });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(...workgroups);
      pass.end();
      query += 2;
    }
  }
  encoder.resolveQuerySet(querySet, 0, query, resolved, 0);
  return encoder.finish();
}

function queryCount(runs: number, passes: number): number {
  return runs * passes * 2;
}

/**
 * Sums the durations of all timed passes. Null when the timestamps are unusable: a pass that
 * ends before it begins, or a total of zero (a quantized timer on a short op).
 */
function summedPassSeconds(ticks: BigUint64Array, count: number): number | null {
  let total = 0;
  for (let index = 0; index < count; index += 2) {
    const nanoseconds = Number(ticks[index + 1] - ticks[index]);
    if (!(nanoseconds >= 0)) return null;
    total += nanoseconds;
  }
  return total > 0 ? total / 1e9 : null;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
