// The TRM on the GPU: its device buffers and one supervision step, the recursion of the
// latent z and the answer y that the carry takes from one step to the next.
import { add } from '../../autograd/ops.js';
import { Arena } from '../../autograd/arena.js';
import { Tape, type Tensor } from '../../autograd/tape.js';
import type { Gpu } from '../../gpu/gpu.js';
import { Copy, Fill } from '../../kernels/elementwise.js';
import { type BufferRange } from '../../gpu/bindings.js';
import { createRopeTable } from '../../kernels/rope.js';
import { trmSizes, validateConfig, type TrmConfig, type TrmSizes } from '../config.js';
import type { TrmParameters } from '../init.js';
import { denseLayout, type DenseLayout } from '../parameters.js';
import { net } from './block.js';
import { parameterViews, type ModelContext } from './context.js';
import { inputEncoding } from './encoding.js';
import { outputHeads } from './heads.js';
import { trainingLoss, type LossBuffers } from './losses.js';

/** The device state of one batch of slots that a supervision step reads and writes. */
export interface StepBuffers {
  batch: number;
  /** [batch, length, hidden] each: the carry, read at the start of a step and replaced at its end. */
  y: GPUBuffer;
  z: GPUBuffer;
  /** i32 [batch, seq] each. */
  tokens: GPUBuffer;
  labels: GPUBuffer;
  /** i32 [batch] */
  puzzleIds: GPUBuffer;
  /** [batch, seq, vocab]: the last step's logits. */
  logits: GPUBuffer;
  /** [batch]: the last step's halting logits. */
  qHalt: GPUBuffer;
  /** [batch] each: the last training step's losses and accuracy (LossBuffers). */
  seqLoss: GPUBuffer;
  qHaltLoss: GPUBuffer;
  correct: GPUBuffer;
  valid: GPUBuffer;
  exact: GPUBuffer;
  /** [batch, hidden]: the last training step's gradient of each sample's puzzle-table row. */
  dPuzzle: GPUBuffer;
}

interface Carry {
  y: Tensor;
  z: Tensor;
}

export class TrmGpuModel {
  readonly sizes: TrmSizes;
  readonly layout: DenseLayout;
  readonly arena: Arena;
  readonly tape: Tape;
  /** [layout.length] each: the dense parameters and their gradient. */
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  /** [numPuzzleIds, hidden] */
  readonly puzzleTable: GPUBuffer;
  /** [hidden] each: the initial y and z of every position. */
  readonly hInit: GPUBuffer;
  readonly lInit: GPUBuffer;
  private readonly ropeTable: GPUBuffer | null;
  private readonly owned: GPUBuffer[] = [];

  private constructor(
    readonly gpu: Gpu,
    readonly config: TrmConfig,
    initial: TrmParameters,
  ) {
    validateConfig(config);
    this.sizes = trmSizes(config);
    this.layout = denseLayout(config);
    checkParameters(config, this.layout, initial);
    this.arena = new Arena(gpu);
    this.tape = new Tape(this.arena);

    this.params = this.own(gpu.createBufferFrom('params', initial.dense));
    this.grads = this.own(gpu.createBuffer('grads', this.layout.length * 4));
    this.puzzleTable = this.own(gpu.createBufferFrom('puzzle_emb.weights', initial.puzzleEmb));
    this.hInit = this.own(gpu.createBufferFrom('H_init', initial.hInit));
    this.lInit = this.own(gpu.createBufferFrom('L_init', initial.lInit));
    this.ropeTable = config.variant === 'att' ? this.own(createRopeTable(gpu, 'rope table', this.sizes.totalSeqLen, config.headDim, config.ropeBase)) : null;
  }

  /** Uploads `initial` into new device buffers. */
  static create(gpu: Gpu, config: TrmConfig, initial: TrmParameters): TrmGpuModel {
    return new TrmGpuModel(gpu, config, initial);
  }

  /** Creates the per-slot buffers for `batch` samples, zero-filled; destroy them with destroyStepBuffers(). */
  createStepBuffers(batch: number): StepBuffers {
    const { config, sizes, gpu } = this;
    const carry = batch * sizes.totalSeqLen * config.hidden * 4;
    const tokens = batch * config.seqLen * 4;
    return {
      batch,
      y: gpu.createBuffer('carry y', carry),
      z: gpu.createBuffer('carry z', carry),
      tokens: gpu.createBuffer('slot tokens', tokens),
      labels: gpu.createBuffer('slot labels', tokens),
      puzzleIds: gpu.createBuffer('slot puzzle ids', batch * 4),
      logits: gpu.createBuffer('logits', tokens * config.vocab),
      qHalt: gpu.createBuffer('q_halt', batch * 4),
      seqLoss: gpu.createBuffer('token loss', batch * 4),
      qHaltLoss: gpu.createBuffer('halting loss', batch * 4),
      correct: gpu.createBuffer('correct tokens', batch * 4),
      valid: gpu.createBuffer('valid tokens', batch * 4),
      exact: gpu.createBuffer('exact', batch * 4),
      dPuzzle: gpu.createBuffer('dPuzzle', batch * config.hidden * 4),
    };
  }

  destroyStepBuffers(buffers: StepBuffers): void {
    for (const value of Object.values(buffers)) if (typeof value !== 'number') this.gpu.destroyBuffer(value);
  }

  /**
   * Records one supervision step from the carry in `buffers`: the input encoding, T − 1
   * recursions without gradient, the final recursion, and the heads, then the new carry,
   * logits and q_halt into `buffers`. Training (weights must be `params`) also zeroes `grads`,
   * records the losses and runs the backward pass into `grads` and buffers.dPuzzle. Nothing is
   * submitted.
   */
  async supervisionStep(buffers: StepBuffers, options: { weights: GPUBuffer; train: boolean }): Promise<void> {
    if (options.train && options.weights !== this.params) throw new Error('supervisionStep: training updates params, so it must also read its weights from params');
    const m = this.context(buffers.batch, options.weights, options.train);
    const body = () => this.tape.tidy(() => this.encodeStep(m, buffers, options.train));
    try {
      await (options.train ? body() : this.tape.noGrad(body));
    } finally {
      this.tape.clear();
    }
  }

  private async encodeStep(m: ModelContext, buffers: StepBuffers, train: boolean): Promise<void> {
    const { tape, config, sizes } = this;
    if (train) await this.zeroGrads();

    const ids = { tokens: whole(buffers.tokens), puzzleIds: whole(buffers.puzzleIds) };
    const x = await inputEncoding(m, ids, train ? whole(buffers.dPuzzle) : null);

    const shape = [buffers.batch, sizes.totalSeqLen, config.hidden];
    let carry: Carry = { y: tape.external('carry y', whole(buffers.y), shape), z: tape.external('carry z', whole(buffers.z), shape) };
    await tape.noGrad(async () => {
      for (let r = 0; r < config.recursions - 1; r++) {
        const next = await recursion(m, carry, x);
        tape.dispose(carry.y);
        tape.dispose(carry.z);
        carry = next;
      }
    });
    const final = await recursion(m, carry, x);

    const heads = await outputHeads(m, final.y);
    await this.copy('logits out', heads.logits, buffers.logits);
    await this.copy('q_halt out', heads.qHalt, buffers.qHalt);
    if (train) await tape.backward(await trainingLoss(m, heads.logits, heads.qHalt, lossBuffers(buffers)));

    // The next step treats the carry as a constant.
    await this.copy('carry y out', tape.detach(final.y), buffers.y);
    await this.copy('carry z out', tape.detach(final.z), buffers.z);
  }

  private context(batch: number, weights: GPUBuffer, train: boolean): ModelContext {
    const { gpu, config, sizes, layout, tape, arena } = this;
    const views = parameterViews(layout, weights, train ? this.grads : null);
    return { gpu, config, sizes, layout, tape, arena, batch, puzzleTable: this.puzzleTable, ropeTable: this.ropeTable, ...views };
  }

  private async zeroGrads(): Promise<void> {
    const shape = { length: this.layout.length, value: 0 };
    const fill = await this.arena.op('zero grads', shape, [this.grads], () => Fill.create(this.gpu, 'zero grads', shape, { out: this.grads }));
    fill.encode();
  }

  private async copy(name: string, source: Tensor, target: GPUBuffer): Promise<void> {
    const shape = { length: source.size };
    const op = await this.arena.op(name, shape, [source.data, target], () => Copy.create(this.gpu, name, shape, { a: source.data, out: target }));
    op.encode();
  }

  private own(buffer: GPUBuffer): GPUBuffer {
    this.owned.push(buffer);
    return buffer;
  }

  /** Destroys the model's buffers and ops (not the StepBuffers it created). */
  dispose(): void {
    this.tape.clear();
    this.arena.dispose();
    for (const buffer of this.owned) this.gpu.destroyBuffer(buffer);
    this.owned.length = 0;
  }
}

/** Runs one recursion: n times z ← net(z, y + x), then y ← net(y, z). */
async function recursion(m: ModelContext, carry: Carry, x: Tensor): Promise<Carry> {
  return m.tape.tidy(async () => {
    const injection = await add(m.tape, 'injection y + x', carry.y, x);
    let z = carry.z;
    for (let step = 0; step < m.config.latentSteps; step++) {
      const next = await net(m, z, injection);
      if (z !== carry.z) m.tape.dispose(z);
      z = next;
    }
    m.tape.dispose(injection);
    return { y: await net(m, carry.y, z), z };
  });
}

function whole(buffer: GPUBuffer): BufferRange {
  return { buffer, offset: 0, size: buffer.size };
}

function lossBuffers(buffers: StepBuffers): LossBuffers {
  const { labels, seqLoss, qHaltLoss, correct, valid, exact } = buffers;
  return { labels: whole(labels), seqLoss: whole(seqLoss), qHaltLoss: whole(qHaltLoss), correct: whole(correct), valid: whole(valid), exact: whole(exact) };
}

function checkParameters(config: TrmConfig, layout: DenseLayout, initial: TrmParameters): void {
  const expected = { dense: layout.length, puzzleEmb: config.numPuzzleIds * config.hidden, hInit: config.hidden, lInit: config.hidden };
  for (const [name, length] of Object.entries(expected)) {
    const actual = initial[name as keyof TrmParameters].length;
    if (actual !== length) throw new RangeError(`parameters.${name} has ${actual} values, expected ${length} for this config`);
  }
}
