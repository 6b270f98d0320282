import { AttentionBackward, AttentionForward, attentionSizes, type AttentionShape, type AttentionVariant } from '../../kernels/attention.js';
import { createRopeTable, Rope, type RopeDirection } from '../../kernels/rope.js';
import type { Gpu } from '../../gpu/gpu.js';
import { withInputBuffers, type OpHandler } from './common.js';

export const attentionOps: Record<string, OpHandler> = {
  /** inputs qkv; params shape, direction; outputs qkv with q and k rotated in place. */
  rope: (gpu, request) =>
    withInputBuffers(gpu, request.inputs, async ({ qkv }) => {
      const shape = request.params.shape as AttentionShape;
      const direction = request.params.direction as RopeDirection;
      const table = createRopeTable(gpu, 'rope.table', shape.seq, shape.headDim);
      try {
        const rope = await Rope.create(gpu, `rope.${direction}`, shape, { qkv, table }, direction);
        rope.encode();
        const result = await gpu.readFloat32(qkv, request.inputs.qkv.length);
        rope.destroy();
        return { qkv: result };
      } finally {
        gpu.destroyBuffer(table);
      }
    }),

  /** inputs qkv; params shape, variant; outputs out, logsumexp. */
  attentionForward: (gpu, request) =>
    withInputBuffers(gpu, request.inputs, async ({ qkv }) => {
      const shape = request.params.shape as AttentionShape;
      const variant = request.params.variant as AttentionVariant;
      const sizes = attentionSizes(shape);
      return withNaNOutputs(gpu, { out: sizes.out, logsumexp: sizes.logsumexp }, async ({ out, logsumexp }) => {
        const attention = await AttentionForward.create(gpu, `attention.forward.${variant}`, shape, { qkv, out, logsumexp }, variant);
        attention.encode();
        const result = { out: await gpu.readFloat32(out, sizes.out), logsumexp: await gpu.readFloat32(logsumexp, sizes.logsumexp) };
        attention.destroy();
        return result;
      });
    }),

  /** inputs qkv, out, logsumexp, dOut; params shape, variant; outputs dqkv. */
  attentionBackward: (gpu, request) =>
    withInputBuffers(gpu, request.inputs, async ({ qkv, out, logsumexp, dOut }) => {
      const shape = request.params.shape as AttentionShape;
      const variant = request.params.variant as AttentionVariant;
      const sizes = attentionSizes(shape);
      return withNaNOutputs(gpu, { dqkv: sizes.qkv }, async ({ dqkv }) => {
        const attention = await AttentionBackward.create(gpu, `attention.backward.${variant}`, shape, { qkv, out, logsumexp, dOut, dqkv }, variant);
        attention.encode();
        const result = { dqkv: await gpu.readFloat32(dqkv, sizes.qkv) };
        attention.destroy();
        return result;
      });
    }),
};

/**
 * Creates output buffers of the given f32 counts filled with NaN, so an element a kernel fails
 * to write reads back as NaN, calls body, and destroys the buffers afterwards.
 */
async function withNaNOutputs<T>(gpu: Gpu, counts: Record<string, number>, body: (buffers: Record<string, GPUBuffer>) => Promise<T>): Promise<T> {
  const buffers: Record<string, GPUBuffer> = {};
  for (const [name, count] of Object.entries(counts)) buffers[name] = gpu.createBufferFrom(name, new Float32Array(count).fill(Number.NaN));
  try {
    return await body(buffers);
  } finally {
    for (const buffer of Object.values(buffers)) gpu.destroyBuffer(buffer);
  }
}
