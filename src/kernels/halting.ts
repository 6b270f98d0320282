// Per-slot training state on the device: restarting halted slots, the halting decision with
// its watch for non-finite losses, and the initial carry. Float64 references and the WebGPU ops.
import { packUniform, type Gpu, type StorageBinding } from '../gpu/gpu.js';
import { wgslSources } from '../generated/wgsl.js';
import { BoundPasses, requireDimensions, requireElements, type BufferRange, type Pass } from '../gpu/bindings.js';

/** A batch of training slots: carry [batch, prefix + seq, hidden], data [batch, seq]. */
export interface SlotShape {
  batch: number;
  prefix: number;
  seq: number;
  hidden: number;
  /** Supervision steps after which a slot always halts. */
  maxSteps: number;
}

/** The value of firstBadStep while every loss so far was finite. */
export const NO_BAD_STEP = 0xffffffff;

/** Element counts of the slot tensors; `incoming` is the new batch: tokens, labels, then puzzle ids. */
export function slotSizes(shape: SlotShape) {
  const { batch, prefix, seq, hidden } = shape;
  return { carry: batch * (prefix + seq) * hidden, tokens: batch * seq, incoming: 2 * batch * seq + batch };
}

// ---------------------------------------------------------------------------------------
// Float64 references.

export interface SlotState {
  /** [batch, prefix + seq, hidden] each. */
  y: Float64Array;
  z: Float64Array;
  /** [batch, seq] each. */
  tokens: Int32Array;
  labels: Int32Array;
  /** [batch] */
  puzzleIds: Int32Array;
  steps: Uint32Array;
}

/** Restarts the halted slots of `state` in place from hInit, lInit [hidden] and `incoming`. */
export function resetSlotsReference(shape: SlotShape, state: SlotState, halted: ArrayLike<number>, hInit: ArrayLike<number>, lInit: ArrayLike<number>, incoming: Int32Array): void {
  const { batch, prefix, seq, hidden } = shape;
  const rows = prefix + seq;
  for (let b = 0; b < batch; b++) {
    if (!halted[b]) continue;
    for (let i = 0; i < rows * hidden; i++) {
      state.y[b * rows * hidden + i] = hInit[i % hidden];
      state.z[b * rows * hidden + i] = lInit[i % hidden];
    }
    state.tokens.set(incoming.subarray(b * seq, (b + 1) * seq), b * seq);
    state.labels.set(incoming.subarray((batch + b) * seq, (batch + b + 1) * seq), b * seq);
    state.puzzleIds[b] = incoming[2 * batch * seq + b];
    state.steps[b] = 0;
  }
}

/**
 * steps += 1; halted = steps ≥ maxSteps, or with maxSteps > 1 (halted or qHalt > 0) and
 * steps ≥ minSteps. Updates steps and halted in place and returns whether a loss is NaN or ±∞.
 */
export function advanceHaltingReference(
  maxSteps: number,
  steps: Uint32Array,
  halted: Uint32Array,
  qHalt: ArrayLike<number>,
  minSteps: ArrayLike<number>,
  losses: ArrayLike<number>[],
): boolean {
  for (let b = 0; b < steps.length; b++) {
    steps[b] += 1;
    let halt = steps[b] >= maxSteps;
    if (maxSteps > 1) halt = (halt || qHalt[b] > 0) && steps[b] >= minSteps[b];
    halted[b] = halt ? 1 : 0;
  }
  return losses.some((values) => Array.from(values).some((value) => !Number.isFinite(value)));
}

// ---------------------------------------------------------------------------------------
// GPU ops.

const UNIFORM_TYPES = 'uuuuuu';

function uniformWords(shape: SlotShape, step: number): number[] {
  return [shape.batch, shape.prefix + shape.seq, shape.hidden, shape.seq, shape.maxSteps, step];
}

function checkShape(op: string, shape: SlotShape): ReturnType<typeof slotSizes> {
  requireDimensions(op, { batch: shape.batch, seq: shape.seq, hidden: shape.hidden, maxSteps: shape.maxSteps });
  if (!Number.isInteger(shape.prefix) || shape.prefix < 0) throw new RangeError(`${op}: prefix must be a non-negative integer, got ${shape.prefix}`);
  return slotSizes(shape);
}

/** Binds one entry point of halting.wgsl: the uniform, then `operands`, one invocation per element of `invocations`. */
async function haltingPass(gpu: Gpu, name: string, entryPoint: string, shape: SlotShape, operands: BufferRange[], invocations: number): Promise<Pass> {
  const pipeline = await gpu.pipeline(`halting.${entryPoint}`, wgslSources.halting, entryPoint);
  const params = gpu.createUniform(`${name}.params`, uniformWords(shape, 0), UNIFORM_TYPES);
  const bindGroup = gpu.bindGroup(name, pipeline, [params, ...operands]);
  return { pipeline, bindGroup, params, workgroups: Math.ceil(invocations / 64) };
}

interface CarryBuffers {
  y: StorageBinding;
  z: StorageBinding;
  hInit: StorageBinding;
  lInit: StorageBinding;
}

function carryOperands(op: string, shape: SlotShape, buffers: CarryBuffers): BufferRange[] {
  const { carry } = slotSizes(shape);
  return [
    requireElements(op, 'y', buffers.y, carry),
    requireElements(op, 'z', buffers.z, carry),
    requireElements(op, 'hInit', buffers.hInit, shape.hidden),
    requireElements(op, 'lInit', buffers.lInit, shape.hidden),
  ];
}

/**
 * Restarts every slot whose halted flag (u32) is set. Its carry y, z becomes H_init, L_init at
 * every position and its step count 0. Its tokens, labels (i32 [batch, seq]) and puzzle id
 * (i32 [batch]) become its sample of `incoming`, which is i32 tokens [batch, seq], then labels
 * [batch, seq], then ids [batch].
 */
export class ResetSlots extends BoundPasses {
  static async create(
    gpu: Gpu,
    name: string,
    shape: SlotShape,
    buffers: CarryBuffers & { halted: StorageBinding; tokens: StorageBinding; labels: StorageBinding; puzzleIds: StorageBinding; steps: StorageBinding; incoming: StorageBinding },
  ): Promise<ResetSlots> {
    const op = `reset slots '${name}'`;
    const sizes = checkShape(op, shape);
    const halted = requireElements(op, 'halted', buffers.halted, shape.batch);
    const carry = await haltingPass(gpu, `${name}.carry`, 'reset_carry', shape, [...carryOperands(op, shape, buffers), halted], sizes.carry);
    const data = [
      requireElements(op, 'tokens', buffers.tokens, sizes.tokens),
      requireElements(op, 'labels', buffers.labels, sizes.tokens),
      requireElements(op, 'puzzleIds', buffers.puzzleIds, shape.batch),
      requireElements(op, 'steps', buffers.steps, shape.batch),
      requireElements(op, 'incoming', buffers.incoming, sizes.incoming),
      halted,
    ];
    return new ResetSlots(gpu, name, [carry, await haltingPass(gpu, `${name}.data`, 'reset_data', shape, data, sizes.tokens)]);
  }
}

/** y, z ← H_init, L_init at every position of every slot: the carry that evaluation starts from. */
export class FillCarry extends BoundPasses {
  static async create(gpu: Gpu, name: string, shape: SlotShape, buffers: CarryBuffers): Promise<FillCarry> {
    const op = `fill carry '${name}'`;
    const sizes = checkShape(op, shape);
    return new FillCarry(gpu, name, [await haltingPass(gpu, name, 'fill_carry', shape, carryOperands(op, shape, buffers), sizes.carry)]);
  }
}

/**
 * The halting update after a step's forward pass, over steps and halted (u32 [batch]), qHalt
 * (f32) and minSteps (u32). It also watches the losses: firstBadStep (one u32, starting at
 * NO_BAD_STEP) becomes the smallest step given to setStep() at which seqLoss or qHaltLoss
 * (f32 [batch]) held a NaN or ±∞. Call setStep() before recording each step.
 */
export class AdvanceHalting extends BoundPasses {
  private stepIsSet = false;

  private constructor(
    gpu: Gpu,
    name: string,
    private readonly pass: Pass,
    readonly shape: SlotShape,
  ) {
    super(gpu, name, [pass]);
  }

  static async create(
    gpu: Gpu,
    name: string,
    shape: SlotShape,
    buffers: { steps: StorageBinding; halted: StorageBinding; qHalt: StorageBinding; minSteps: StorageBinding; seqLoss: StorageBinding; qHaltLoss: StorageBinding; firstBadStep: StorageBinding },
  ): Promise<AdvanceHalting> {
    const op = `advance halting '${name}'`;
    checkShape(op, shape);
    const perSlot = (['steps', 'halted', 'qHalt', 'minSteps', 'seqLoss', 'qHaltLoss'] as const).map((operand) => requireElements(op, operand, buffers[operand], shape.batch));
    const operands = [...perSlot, requireElements(op, 'firstBadStep', buffers.firstBadStep, 1)];
    return new AdvanceHalting(gpu, name, await haltingPass(gpu, name, 'advance_halting', shape, operands, shape.batch), shape);
  }

  /** Sets the step number the loss watch records; a queue write, so submit the previous step's work first. */
  setStep(step: number): void {
    if (!Number.isInteger(step) || step < 1 || step >= NO_BAD_STEP) throw new RangeError(`advance halting '${this.name}': step must be an integer in [1, ${NO_BAD_STEP}), got ${step}`);
    this.gpu.upload(this.pass.params, packUniform(uniformWords(this.shape, step), UNIFORM_TYPES));
    this.stepIsSet = true;
  }

  /** Records the update; throws unless setStep() was called since the last encode(). */
  override encode(): void {
    if (!this.stepIsSet) throw new Error(`advance halting '${this.name}': call setStep(step) before each encode()`);
    this.stepIsSet = false;
    super.encode();
  }
}
