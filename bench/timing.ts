// Timing helpers shared by the benchmarks: warm up, then time many back-to-back dispatches
// submitted together with one wait, and report the median over repeats.
import type { Gpu } from '../src/gpu/gpu.js';

export interface TimingOptions {
  /** Dispatches recorded into one submission before the single wait. */
  iterations: number;
  repeats: number;
}

/** Median seconds per call of encode(), which must record one unit of work. */
export async function timeEncoded(gpu: Gpu, encode: () => void, options: TimingOptions): Promise<number> {
  encode();
  await gpu.sync('benchmark warm-up');

  const samples: number[] = [];
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    const started = performance.now();
    for (let i = 0; i < options.iterations; i++) encode();
    await gpu.sync('benchmark');
    samples.push((performance.now() - started) / 1000 / options.iterations);
  }
  return median(samples);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
