// Optimizers over the flat parameter buffer (AdamATan2, AdamW, EMA), sparse SignSGD for the
// puzzle embedding, and the learning-rate schedule: float64 references and the WebGPU ops.
import { wgslSources } from '../generated/wgsl.js';
import { packUniform, type Gpu, type StorageBinding } from '../gpu/gpu.js';
import { BoundPasses, requireDimensions, requireElements, type BufferRange, type Pass } from '../gpu/bindings.js';

// ---------------------------------------------------------------------------------------
// Learning-rate schedule

export interface LearningRateSchedule {
  baseLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Final lr as a fraction of baseLr; 1 keeps the lr constant after warmup. */
  minRatio: number;
}

/**
 * Returns the lr for a 1-based step: linear warmup from 0 (step 1 uses baseLr / warmupSteps),
 * then a half cosine from baseLr down to baseLr · minRatio at totalSteps. The reference
 * training runs use warmupSteps 2000 and minRatio 1, so the lr is constant after warmup.
 */
export function learningRateAt(step: number, schedule: LearningRateSchedule): number {
  const { baseLr, warmupSteps, totalSteps, minRatio } = schedule;
  if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);

  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return baseLr * (minRatio + Math.max(0, (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress))));
}

// ---------------------------------------------------------------------------------------
// Adam family

export type AdamRule = 'atan2' | 'adamw';

export interface AdamSettings {
  rule: AdamRule;
  beta1: number;
  beta2: number;
  /** Decoupled weight decay: p ← p · (1 − lr · weightDecay) before the Adam step. */
  weightDecay: number;
  /** AdamW only; AdamATan2 has no epsilon. */
  eps: number;
}

/** AdamATan2 as the reference training config: β = (0.9, 0.95), wd 1.0 (Sudoku, Maze; ARC uses 0.1). */
export const TRM_ADAM_ATAN2: AdamSettings = { rule: 'atan2', beta1: 0.9, beta2: 0.95, weightDecay: 1.0, eps: 0 };

export interface AdamState {
  param: Float64Array;
  m: Float64Array;
  v: Float64Array;
}

/** Float64 reference: advances param, m and v in place by one step (1-based) with gradient grad. */
export function adamReferenceStep(settings: AdamSettings, state: AdamState, grad: ArrayLike<number>, step: number, lr: number): void {
  const { beta1, beta2, weightDecay, eps } = settings;
  const bias1 = 1 - beta1 ** step;
  const bias2Sqrt = Math.sqrt(1 - beta2 ** step);
  const { param, m, v } = state;

  for (let i = 0; i < param.length; i++) {
    m[i] = beta1 * m[i] + (1 - beta1) * grad[i];
    v[i] = beta2 * v[i] + (1 - beta2) * grad[i] * grad[i];
    const mHat = m[i] / bias1;
    const vHatSqrt = Math.sqrt(v[i]) / bias2Sqrt;
    const update = settings.rule === 'atan2' ? Math.atan2(mHat, vHatSqrt) : mHat / (vHatSqrt + eps);
    param[i] = param[i] * (1 - lr * weightDecay) - lr * update;
  }
}

/**
 * One Adam-family step over all P parameters of the flat buffers param, grad, m and v, [P]
 * each. They are bound as vec4 arrays, so each binding must span ceil(P / 4) · 16 bytes, as a
 * buffer from gpu.createBuffer for P floats does. Call setStep() before recording each step.
 */
export class Adam extends BoundPasses {
  private readonly uniform: GPUBuffer;
  private stepIsSet = false;

  private constructor(
    gpu: Gpu,
    name: string,
    pass: Pass,
    readonly count: number,
    readonly settings: AdamSettings,
  ) {
    super(gpu, name, [pass]);
    this.uniform = pass.params;
  }

  static async create(
    gpu: Gpu,
    name: string,
    count: number,
    buffers: { param: StorageBinding; grad: StorageBinding; m: StorageBinding; v: StorageBinding },
    settings: AdamSettings,
  ): Promise<Adam> {
    const op = `adam '${name}'`;
    requireDimensions(op, { P: count });
    const operands = (['param', 'grad', 'm', 'v'] as const).map((operand) => requireVec4Elements(op, operand, buffers[operand], count));
    const uniform = { words: adamUniformWords(count, settings, 1, 0), types: ADAM_UNIFORM_TYPES };
    const pass = await vec4Pass(gpu, name, 'adam', operands, uniform, count, { use_atan2: settings.rule === 'atan2' ? 1 : 0 });
    return new Adam(gpu, name, pass, count, settings);
  }

  /**
   * Sets the 1-based step number (for the bias corrections) and the lr. The upload is a queue
   * write, which lands before every command of the next gpu.submit(), including commands
   * recorded before this call. So submit each step's work before setting the next step.
   */
  setStep(step: number, lr: number): void {
    if (!Number.isInteger(step) || step < 1) throw new Error(`adam '${this.name}': step must be a positive integer, got ${step}`);
    this.gpu.upload(this.uniform, packUniform(adamUniformWords(this.count, this.settings, step, lr), ADAM_UNIFORM_TYPES));
    this.stepIsSet = true;
  }

  /** Records the step; throws unless setStep() was called since the last encode(). */
  override encode(): void {
    if (!this.stepIsSet) throw new Error(`adam '${this.name}': call setStep(step, lr) before each encode(), because the bias corrections change every step`);
    this.stepIsSet = false;
    super.encode();
  }
}

const ADAM_UNIFORM_TYPES = 'ufffffffff';

function adamUniformWords(count: number, settings: AdamSettings, step: number, lr: number): number[] {
  const { beta1, beta2, weightDecay, eps } = settings;
  return [count, beta1, 1 - beta1, beta2, 1 - beta2, lr, 1 - lr * weightDecay, 1 - beta1 ** step, Math.sqrt(1 - beta2 ** step), eps];
}

// ---------------------------------------------------------------------------------------
// EMA

/** EMA rate of the reference training runs, applied after every optimizer step. */
export const TRM_EMA_RATE = 0.999;

/** Float64 reference: shadow ← rate · shadow + (1 − rate) · param, in place. */
export function emaReferenceStep(shadow: Float64Array, param: ArrayLike<number>, rate: number): void {
  for (let i = 0; i < shadow.length; i++) shadow[i] = rate * shadow[i] + (1 - rate) * param[i];
}

/** The EMA update over the flat buffers shadow and param ([P] each, bound as vec4 arrays like Adam's). */
export class Ema extends BoundPasses {
  static async create(gpu: Gpu, name: string, count: number, buffers: { shadow: StorageBinding; param: StorageBinding }, rate = TRM_EMA_RATE): Promise<Ema> {
    const op = `ema '${name}'`;
    requireDimensions(op, { P: count });
    const operands = [requireVec4Elements(op, 'shadow', buffers.shadow, count), requireVec4Elements(op, 'param', buffers.param, count)];
    const uniform = { words: [count, rate, 1 - rate], types: 'uff' };
    return new Ema(gpu, name, [await vec4Pass(gpu, name, 'ema', operands, uniform, count)]);
  }
}

// ---------------------------------------------------------------------------------------
// Sparse SignSGD for puzzle-embedding rows

export interface SignSgdShape {
  batch: number;
  hidden: number;
  /** Rows of the puzzle-embedding table. */
  rows: number;
}

/**
 * Float64 reference: sums the per-sample gradients [batch, hidden] per puzzle id in batch
 * order, then updates each touched row of table [rows, hidden] in place:
 * row ← row · (1 − lr·wd) − lr · sign(sum), with sign(0) = 0. Ids must be valid.
 */
export function signSgdReferenceStep(
  shape: SignSgdShape,
  table: Float64Array,
  grads: ArrayLike<number>,
  ids: ArrayLike<number>,
  lr: number,
  weightDecay: number,
): void {
  const { batch, hidden } = shape;
  const sums = new Map<number, Float64Array>();
  for (let b = 0; b < batch; b++) {
    const sum = sums.get(ids[b]) ?? new Float64Array(hidden);
    for (let c = 0; c < hidden; c++) sum[c] += grads[b * hidden + c];
    sums.set(ids[b], sum);
  }

  for (const [id, sum] of sums) {
    for (let c = 0; c < hidden; c++) {
      const element = id * hidden + c;
      table[element] = table[element] * (1 - lr * weightDecay) - lr * Math.sign(sum[c]);
    }
  }
}

/**
 * One sparse SignSGD step: table [rows, hidden] f32, grads [batch, hidden] f32 (the per-sample
 * puzzle gradients of the embedding backward pass), ids [batch] i32. Ids outside [0, rows)
 * update nothing. Call setLearningRate() before the first step and whenever the lr changes.
 */
export class SignSgd extends BoundPasses {
  private readonly uniform: GPUBuffer;
  private learningRateIsSet = false;

  private constructor(
    gpu: Gpu,
    name: string,
    pass: Pass,
    readonly shape: SignSgdShape,
    readonly weightDecay: number,
  ) {
    super(gpu, name, [pass]);
    this.uniform = pass.params;
  }

  static async create(
    gpu: Gpu,
    name: string,
    shape: SignSgdShape,
    buffers: { table: StorageBinding; grads: StorageBinding; ids: StorageBinding },
    weightDecay: number,
  ): Promise<SignSgd> {
    const op = `signSgd '${name}'`;
    requireDimensions(op, { ...shape });
    const operands = [
      requireElements(op, 'table', buffers.table, shape.rows * shape.hidden),
      requireElements(op, 'grads', buffers.grads, shape.batch * shape.hidden),
      requireElements(op, 'ids', buffers.ids, shape.batch),
    ];
    const pipeline = await gpu.pipeline('optimizer.sign_sgd', wgslSources.optimizer, 'sign_sgd');
    const params = gpu.createUniform(`${name}.params`, signSgdUniformWords(shape, 0, weightDecay), SIGN_SGD_UNIFORM_TYPES);
    const bindGroup = gpu.bindGroup(name, pipeline, [...operands, params]);
    const workgroups = Math.ceil((shape.batch * shape.hidden) / 64);
    return new SignSgd(gpu, name, { pipeline, bindGroup, params, workgroups }, shape, weightDecay);
  }

  /** Sets the lr; a queue write like Adam.setStep, so submit the previous step's work first. */
  setLearningRate(lr: number): void {
    this.gpu.upload(this.uniform, packUniform(signSgdUniformWords(this.shape, lr, this.weightDecay), SIGN_SGD_UNIFORM_TYPES));
    this.learningRateIsSet = true;
  }

  /** Records the step; throws unless setLearningRate() was called at least once. */
  override encode(): void {
    if (!this.learningRateIsSet) throw new Error(`signSgd '${this.name}': call setLearningRate(lr) before the first encode()`);
    super.encode();
  }
}

const SIGN_SGD_UNIFORM_TYPES = 'uuuff';

function signSgdUniformWords(shape: SignSgdShape, lr: number, weightDecay: number): number[] {
  return [shape.batch, shape.hidden, shape.rows, lr, 1 - lr * weightDecay];
}

// ---------------------------------------------------------------------------------------
// Shared binding

/** Checks a [count] operand of a vec4 kernel, which binds ceil(count / 4) whole vec4s. */
function requireVec4Elements(op: string, operand: string, binding: StorageBinding, count: number): BufferRange {
  return requireElements(op, operand, binding, Math.ceil(count / 4) * 4);
}

/** Binds a vec4 entry point of optimizer.wgsl: `operands`, then the uniform; one vec4 per invocation. */
async function vec4Pass(
  gpu: Gpu,
  name: string,
  entryPoint: string,
  operands: BufferRange[],
  uniform: { words: number[]; types: string },
  count: number,
  constants: Record<string, number> = {},
): Promise<Pass> {
  const pipeline = await gpu.pipeline(`optimizer.${entryPoint}`, wgslSources.optimizer, entryPoint, constants);
  const params = gpu.createUniform(`${name}.params`, uniform.words, uniform.types);
  const bindGroup = gpu.bindGroup(name, pipeline, [...operands, params]);
  return { pipeline, bindGroup, params, workgroups: Math.ceil(Math.ceil(count / 4) / 64) };
}
