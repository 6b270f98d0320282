// Matrix products for linear layers and token mixing: a float64 reference and the WebGPU op.
import { wgslSources } from '../generated/wgsl.js';
import { AdapterError, ShapeError } from '../gpu/errors.js';
import { Gpu, type AdapterSummary, type StorageBinding } from '../gpu/gpu.js';
import { tunedMatmulVariant } from './matmul-tuning.js';
import { requireElements } from '../gpu/bindings.js';

/**
 * Kernel variants. 'tiled' uses workgroup memory, which is fast on GPUs. The others are
 * barrier-free, which is fast on CPU-backed adapters such as SwiftShader. They compute 4×4
 * blocks with any strides ('registers') or with vec4 loads for operands contiguous along k
 * ('registers_nt4') or B contiguous along n ('registers_bn4'). 'registers_8x8' computes 8×8
 * blocks with any strides, and 'quad_16x32' 16×32 blocks per subgroup quad whose lanes share
 * their loads.
 */
export type MatmulVariant = 'tiled' | 'registers' | 'registers_nt4' | 'registers_bn4' | 'registers_8x8' | 'quad_16x32';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['tiled', 'registers', 'registers_nt4', 'registers_bn4', 'registers_8x8', 'quad_16x32'];

const ENTRY_POINTS: Record<MatmulVariant, string> = {
  tiled: 'matmul_tiled',
  registers: 'matmul_registers',
  registers_nt4: 'matmul_registers_nt4',
  registers_bn4: 'matmul_registers_bn4',
  registers_8x8: 'matmul_registers_8x8',
  quad_16x32: 'matmul_quad_16x32',
};

/** Block of C [rows, columns] that one group of `invocations` computes, for the barrier-free variants. */
const VARIANT_BLOCKS: Record<Exclude<MatmulVariant, 'tiled'>, { rows: number; columns: number; invocations: number }> = {
  registers: { rows: 4, columns: 4, invocations: 1 },
  registers_nt4: { rows: 4, columns: 4, invocations: 1 },
  registers_bn4: { rows: 4, columns: 4, invocations: 1 },
  registers_8x8: { rows: 8, columns: 8, invocations: 1 },
  quad_16x32: { rows: 16, columns: 32, invocations: 4 },
};

/**
 * Returns why a variant cannot run on an adapter, or null when it can. 'quad_16x32' needs the
 * subgroups feature and takes each quad to be 4 consecutive invocations. WebGPU does not
 * specify that order, so the variant is offered only on SwiftShader with 4-wide subgroups,
 * where the tests check its results. GPUs run 'tiled' anyway.
 */
export function matmulVariantUnavailable(variant: MatmulVariant, adapter: AdapterSummary): string | null {
  if (variant !== 'quad_16x32') return null;
  if (!adapter.features.includes('subgroups')) return 'the device has no subgroups feature';
  const name = `${adapter.vendor} ${adapter.architecture} ${adapter.device} ${adapter.description}`;
  if (!/swiftshader/i.test(name)) return `it runs only on SwiftShader, and this adapter is '${name.trim() || 'unnamed'}'`;
  if (adapter.subgroupMinSize !== 4 || adapter.subgroupMaxSize !== 4) {
    const sizes = adapter.subgroupMaxSize > 0 ? `${adapter.subgroupMinSize}-${adapter.subgroupMaxSize}` : 'not reported';
    return `it needs subgroups of exactly 4 invocations, and this adapter's subgroup size is ${sizes}`;
  }
  return null;
}

/** Returns the WGSL module of a variant: the quad variant extends matmul.wgsl behind `enable subgroups;`. */
function variantSource(variant: MatmulVariant): string {
  return variant === 'quad_16x32' ? `enable subgroups;\n${wgslSources.matmul}\n${wgslSources.matmulQuad}` : wgslSources.matmul;
}

/** Tells whether a variant can run a plan. The vec4 forms need strides and sizes in multiples of 4. */
export function matmulVariantSupports(variant: MatmulVariant, plan: MatmulPlan): boolean {
  const multipleOf4 = (...values: number[]) => values.every((value) => value % 4 === 0);
  if (variant === 'registers_nt4') {
    return plan.aStrideK === 1 && plan.bStrideK === 1 && multipleOf4(plan.K, plan.aStrideM, plan.bStrideN, plan.aStrideBatch, plan.bStrideBatch, plan.aOffset, plan.bOffset);
  }
  if (variant === 'registers_bn4') {
    return plan.bStrideN === 1 && multipleOf4(plan.N, plan.bStrideK, plan.bStrideBatch, plan.bOffset);
  }
  return true;
}

/**
 * C[b] = alpha · A[b] · B[b] (+ C[b] when accumulate), with A and B read through strides so
 * that transposed operands need no copy. C is row-major [batch, M, N].
 */
export interface MatmulPlan {
  M: number;
  N: number;
  K: number;
  batch: number;
  aStrideM: number;
  aStrideK: number;
  aStrideBatch: number;
  bStrideK: number;
  bStrideN: number;
  bStrideBatch: number;
  accumulate: boolean;
  alpha: number;
  /** Elements to skip at the start of A and B, for operands that start inside a tensor. */
  aOffset: number;
  bOffset: number;
}

const DEFAULTS = { batch: 1, aStrideBatch: 0, bStrideBatch: 0, accumulate: false, alpha: 1, aOffset: 0, bOffset: 0 };

/** Y[M,N] = X[M,K] · Wᵀ, with W stored [N, K] as in PyTorch. */
export function linearForwardPlan(M: number, N: number, K: number): MatmulPlan {
  return { ...DEFAULTS, M, N, K, aStrideM: K, aStrideK: 1, bStrideK: 1, bStrideN: K };
}

/** dX[M,K] = dY[M,N] · W[N,K]. */
export function linearInputGradPlan(M: number, N: number, K: number): MatmulPlan {
  return { ...DEFAULTS, M, N: K, K: N, aStrideM: N, aStrideK: 1, bStrideK: K, bStrideN: 1 };
}

/** dW[N,K] += dY[M,N]ᵀ · X[M,K], summed over the M rows. */
export function linearWeightGradPlan(M: number, N: number, K: number): MatmulPlan {
  return { ...DEFAULTS, M: N, N: K, K: M, aStrideM: 1, aStrideK: N, bStrideK: K, bStrideN: 1, accumulate: true };
}

/** Number of elements each operand must hold for a plan. */
export function matmulSizes(plan: MatmulPlan): { a: number; b: number; c: number } {
  const lastA = plan.aOffset + (plan.batch - 1) * plan.aStrideBatch + (plan.M - 1) * plan.aStrideM + (plan.K - 1) * plan.aStrideK;
  const lastB = plan.bOffset + (plan.batch - 1) * plan.bStrideBatch + (plan.K - 1) * plan.bStrideK + (plan.N - 1) * plan.bStrideN;
  return { a: lastA + 1, b: lastB + 1, c: plan.batch * plan.M * plan.N };
}

/** Float64 reference: the same product, one dot product per output element. */
export function matmulReference(plan: MatmulPlan, a: ArrayLike<number>, b: ArrayLike<number>, c?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(plan.batch * plan.M * plan.N);
  for (let batch = 0; batch < plan.batch; batch++) {
    for (let m = 0; m < plan.M; m++) {
      for (let n = 0; n < plan.N; n++) {
        let sum = 0;
        for (let k = 0; k < plan.K; k++) {
          const aValue = a[plan.aOffset + batch * plan.aStrideBatch + m * plan.aStrideM + k * plan.aStrideK];
          const bValue = b[plan.bOffset + batch * plan.bStrideBatch + k * plan.bStrideK + n * plan.bStrideN];
          sum += aValue * bValue;
        }
        const index = (batch * plan.M + m) * plan.N + n;
        out[index] = plan.alpha * sum + (plan.accumulate && c ? c[index] : 0);
      }
    }
  }
  return out;
}

/**
 * Picks the variant for a plan when no tuning pass runs: shared-memory tiles on GPUs. On
 * CPU-backed adapters it picks the quad blocks where available and the product fills at least
 * one of them with K of 32 or more, as all TRM products but the lm_head ones do. The quad
 * blocks were the fastest at those on SwiftShader. Otherwise it picks the 8×8 blocks.
 */
export function defaultMatmulVariant(gpu: Gpu, plan: MatmulPlan): MatmulVariant {
  if (!gpu.isSoftware) return 'tiled';
  const fillsQuadBlock = plan.M >= 16 && plan.N >= 32 && plan.K >= 32;
  return fillsQuadBlock && matmulVariantUnavailable('quad_16x32', gpu.adapter) === null ? 'quad_16x32' : 'registers_8x8';
}

/**
 * One matrix product bound to its buffers. The uniform buffer and bind group are built once,
 * so encode() can be recorded every step at no allocation cost.
 */
export class Matmul {
  private constructor(
    private readonly gpu: Gpu,
    readonly name: string,
    readonly plan: MatmulPlan,
    readonly variant: MatmulVariant,
    private readonly pipeline: GPUComputePipeline,
    private readonly bindGroup: GPUBindGroup,
    private readonly params: GPUBuffer,
  ) {}

  static async create(
    gpu: Gpu,
    name: string,
    plan: MatmulPlan,
    buffers: { a: StorageBinding; b: StorageBinding; c: StorageBinding },
    variant: MatmulVariant | 'auto' = 'auto',
  ): Promise<Matmul> {
    validatePlan(name, plan);
    const chosen = variant === 'auto' ? await tunedMatmulVariant(gpu, plan) : variant;
    if (!matmulVariantSupports(chosen, plan)) {
      throw new ShapeError(`matmul '${name}': variant '${chosen}' needs strides and sizes in multiples of 4 that this plan does not have`);
    }
    const unavailable = matmulVariantUnavailable(chosen, gpu.adapter);
    if (unavailable) throw new AdapterError(`matmul '${name}': variant '${chosen}' cannot run here because ${unavailable}; use 'auto' or another variant`);
    const sizes = matmulSizes(plan);
    requireElements(`matmul '${name}'`, 'A', buffers.a, sizes.a);
    requireElements(`matmul '${name}'`, 'B', buffers.b, sizes.b);
    requireElements(`matmul '${name}'`, 'C', buffers.c, sizes.c);
    const pipeline = await gpu.pipeline(`matmul.${chosen}`, variantSource(chosen), ENTRY_POINTS[chosen]);
    const params = gpu.createUniform(`${name}.params`, uniformWords(plan), 'uuuuuuuuuuuufuu');
    const bindGroup = gpu.bindGroup(name, pipeline, [buffers.a, buffers.b, buffers.c, params]);
    return new Matmul(gpu, name, plan, chosen, pipeline, bindGroup, params);
  }

  encode(): void {
    const { M, N, batch } = this.plan;
    if (this.variant === 'tiled') {
      this.gpu.dispatch(this.name, this.pipeline, this.bindGroup, [Math.ceil(N / 64), Math.ceil(M / 64), batch]);
    } else {
      const block = VARIANT_BLOCKS[this.variant];
      const blocks = batch * Math.ceil(M / block.rows) * Math.ceil(N / block.columns);
      this.gpu.dispatch(this.name, this.pipeline, this.bindGroup, Math.ceil((blocks * block.invocations) / 64));
    }
  }

  destroy(): void {
    this.gpu.destroyBuffer(this.params);
  }
}

function uniformWords(plan: MatmulPlan): number[] {
  return [
    plan.M, plan.N, plan.K, plan.batch,
    plan.aStrideM, plan.aStrideK, plan.aStrideBatch, plan.accumulate ? 1 : 0,
    plan.bStrideK, plan.bStrideN, plan.bStrideBatch, plan.M * plan.N,
    plan.alpha, plan.aOffset, plan.bOffset,
  ];
}


function validatePlan(name: string, plan: MatmulPlan): void {
  for (const key of ['M', 'N', 'K', 'batch'] as const) {
    const value = plan[key];
    if (!Number.isInteger(value) || value < 1) throw new ShapeError(`matmul '${name}': ${key} must be a positive integer, got ${value}`);
  }
  if (plan.batch > 65535) throw new ShapeError(`matmul '${name}': batch ${plan.batch} exceeds 65535`);
  const { a } = matmulSizes(plan);
  if (a >= 2 ** 32) throw new ShapeError(`matmul '${name}': operand A spans ${a} elements, beyond 32-bit indexing`);
}
