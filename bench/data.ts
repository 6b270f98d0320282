// Input buffers for the benchmark: deterministic values, so that no kernel sees only zeros
// (which can take faster paths on a CPU-backed adapter) and runs repeat exactly.
import type { Gpu } from '../src/gpu/gpu.js';

/** A storage buffer of `count` f32 values spread over [-1, 1). */
export function randomBuffer(gpu: Gpu, label: string, count: number, seed = 1): GPUBuffer {
  return gpu.createBufferFrom(label, randomFloats(count, seed));
}

/** A storage buffer of `count` i32 values in [0, bound). */
export function indexBuffer(gpu: Gpu, label: string, count: number, bound: number, seed = 2): GPUBuffer {
  const values = new Int32Array(count);
  const source = randomFloats(count, seed);
  for (let i = 0; i < count; i++) values[i] = Math.min(bound - 1, Math.floor(((source[i] + 1) / 2) * bound));
  return gpu.createBufferFrom(label, values);
}

export function randomFloats(count: number, seed = 1): Float32Array {
  const values = new Float32Array(count);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    // xorshift32: cheap enough to fill the 5M-parameter optimizer buffers in a moment.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    values[i] = (state >>> 0) / 2 ** 31 - 1;
  }
  return values;
}
