// Sum over the leading batch axis, accumulated into the output: a float64 reference and the
// WebGPU op.
import { wgslSources } from '../generated/wgsl.js';
import type { Gpu, StorageBinding } from '../gpu/gpu.js';
import { BoundPasses, requireDimensions, requireElements } from '../gpu/bindings.js';

/** x [batch, length] summed over batch into out [length]. */
export interface BatchSumShape {
  batch: number;
  length: number;
}

/** Float64 reference: out + Σ_b x[b], added in batch order. */
export function batchSumReference(shape: BatchSumShape, x: ArrayLike<number>, out: ArrayLike<number>): Float64Array {
  const result = Float64Array.from({ length: shape.length }, (_, i) => out[i]);
  for (let i = 0; i < shape.length; i++) {
    let sum = 0;
    for (let b = 0; b < shape.batch; b++) sum += x[b * shape.length + i];
    result[i] += sum;
  }
  return result;
}

/** out [length] += Σ_b x [batch, length]; x and out must lie in different buffers. */
export class BatchSum extends BoundPasses {
  static async create(gpu: Gpu, name: string, shape: BatchSumShape, buffers: { x: StorageBinding; out: StorageBinding }): Promise<BatchSum> {
    const op = `batch sum '${name}'`;
    requireDimensions(op, { ...shape });
    const x = requireElements(op, 'x', buffers.x, shape.batch * shape.length);
    const out = requireElements(op, 'out', buffers.out, shape.length);

    const pipeline = await gpu.pipeline('batch-sum', wgslSources.batchSum, 'batch_sum_accumulate');
    const params = gpu.createUniform(`${name}.params`, [shape.batch, shape.length], 'uu');
    const bindGroup = gpu.bindGroup(name, pipeline, [params, x, out]);
    return new BatchSum(gpu, name, [{ pipeline, bindGroup, params, workgroups: Math.ceil(shape.length / 64) }]);
  }
}
