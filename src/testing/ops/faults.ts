// Deliberate failures, for the tests that check errors surface with the kernel's name.
import { createGpu } from '../../gpu/device.js';
import { linearForwardPlan, Matmul } from '../../kernels/matmul.js';
import { wgslSources } from '../../generated/wgsl.js';
import { withInputBuffers, type OpHandler } from './common.js';

export const faultOps: Record<string, OpHandler> = {
  /** Dispatches a pipeline with a bind group made for another pipeline's layout. */
  'fault.validation': (gpu, request) =>
    withInputBuffers(gpu, request.inputs, async ({ a, b, c }) => {
      const tiled = await gpu.pipeline('matmul.tiled', wgslSources.matmul, 'matmul_tiled');
      const registers = await gpu.pipeline('matmul.registers', wgslSources.matmul, 'matmul_registers');
      const params = gpu.createUniform('fault.params', new Array(15).fill(1), 'uuuuuuuuuuuufuu');
      const foreign = gpu.bindGroup('fault.foreign-bind-group', registers, [a, b, c, params]);
      gpu.dispatch('fault.mismatched-layout', tiled, foreign, 1);
      try {
        await gpu.sync('fault.validation');
      } finally {
        gpu.destroyBuffer(params);
      }
      return {};
    }),

  /** Binds a range larger than maxStorageBufferBindingSize. */
  'fault.oversized-binding': (gpu, request) =>
    withInputBuffers(gpu, request.inputs, async ({ a, b, c }) => {
      const limit = gpu.device.limits.maxStorageBufferBindingSize;
      await Matmul.create(gpu, 'fault.oversized', linearForwardPlan(1, 1, 1), { a: { buffer: a, offset: 0, size: limit + 256 }, b, c });
      return {};
    }),

  /** Runs a matmul on a second device after destroying it. */
  'fault.lost-device': async (_gpu, request) => {
    const gpu = await createGpu();
    gpu.destroy();
    return withInputBuffers(gpu, request.inputs, async ({ a, b, c }) => {
      const matmul = await Matmul.create(gpu, 'fault.after-loss', linearForwardPlan(1, 1, 1), { a, b, c });
      matmul.encode();
      await gpu.readFloat32(c, 1);
      return {};
    });
  },
};
