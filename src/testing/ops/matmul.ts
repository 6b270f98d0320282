import { MATMUL_VARIANTS, Matmul, type MatmulPlan, type MatmulVariant } from '../../kernels/matmul.js';
import { withInputBuffers, type OpHandler } from './common.js';

export const matmulOps: Record<string, OpHandler> = {
  /** inputs a, b, c (initial C); params plan, variant (or 'auto'); outputs c and the index of the variant that ran. */
  matmul: (gpu, request) =>
    withInputBuffers(gpu, request.inputs, async ({ a, b, c }) => {
      const plan = request.params.plan as MatmulPlan;
      const variant = request.params.variant as MatmulVariant | 'auto';
      const matmul = await Matmul.create(gpu, `matmul.${variant}`, plan, { a, b, c }, variant);
      matmul.encode();
      const result = await gpu.readFloat32(c, request.inputs.c.length);
      matmul.destroy();
      return { c: result, variant: new Uint32Array([MATMUL_VARIANTS.indexOf(matmul.variant)]) };
    }),
};
