// Training and evaluation of the TRM on the device. Each optimizer step runs one supervision
// step for every slot of a fixed-size batch: halted slots restart with the new batch's sample,
// then forward, loss, backward, AdamATan2, SignSGD on the touched puzzle rows, EMA, and the
// halting update. A whole step is one command buffer and reads nothing back; metrics, state
// and gradients are read only when asked.
import { BufferUsage, type Gpu } from '../../gpu/gpu.js';
import { AdvanceHalting, FillCarry, NO_BAD_STEP, ResetSlots, slotSizes, type SlotShape } from '../../kernels/halting.js';
import { ArgmaxRows } from '../../kernels/heads.js';
import { Adam, Ema, learningRateAt, SignSgd, type LearningRateSchedule } from '../../kernels/optimizer.js';
import { validateConfig, type TrmConfig } from '../config.js';
import type { DenseLayout } from '../parameters.js';
import { initializeParameters, Rng, type TrmParameters } from '../init.js';
import { sampleMinHaltSteps } from '../reference/training.js';
import { checkModelBatch, checkTrainingBatch, type ModelBatch, type TrainingBatch } from './inputs.js';
import { encodeMetricsPack, metricsBytes, summarizeMetrics, type TrainMetrics } from './metrics.js';
import { TrmGpuModel, type StepBuffers } from './model.js';
import { checkState, namedTensors, type LoadableState, type SlotSnapshot, type TrainerState } from './state.js';

export interface TrainerOptions {
  /** Initial values; default initializeParameters(config, seed). */
  parameters?: TrmParameters;
  /** Seed of the initial parameters when `parameters` is not given; default 0. */
  seed?: number;
  /** Seed of the halting-exploration draws; null turns exploration off. Default: seed. */
  explorationSeed?: number | null;
  /**
   * After warmup the learning rates fall by a half cosine to lrMinRatio of their base at
   * totalSteps. The default lrMinRatio 1 keeps them constant, as the reference recipes do.
   */
  totalSteps?: number;
  lrMinRatio?: number;
}

/** Outputs of evaluate(): every supervision step from the initial carry, on the EMA weights. */
export interface Evaluation {
  /** [batch, seq, vocab]: logits of the last supervision step. */
  logits: Float32Array;
  /** Per supervision step: [batch, seq] argmax tokens; the last entry is the final prediction. */
  tokens: Int32Array[];
  /** Per supervision step: [batch] q_halt logits. */
  qHalt: Float32Array[];
}

/** The trainer's own per-slot state, next to the model's StepBuffers. */
interface SlotBuffers {
  /** u32 [batch] each. */
  steps: GPUBuffer;
  halted: GPUBuffer;
  minSteps: GPUBuffer;
  /** i32: the new batch's tokens [batch, seq], labels [batch, seq] and puzzle ids [batch]. */
  incoming: GPUBuffer;
  /** u32: the first step with a non-finite loss, or NO_BAD_STEP. */
  firstBadStep: GPUBuffer;
  /** The metrics of the last step, packed for one read. */
  metrics: GPUBuffer;
}

interface EvaluationBuffers {
  step: StepBuffers;
  fill: FillCarry;
  /** i32 [maxSupervisionSteps, batch, seq] */
  predictions: GPUBuffer;
  /** [maxSupervisionSteps, batch] */
  qHalt: GPUBuffer;
}

/** The ops of a training step besides the model's own. */
interface StepOps {
  reset: ResetSlots;
  adam: Adam;
  signSgd: SignSgd;
  ema: Ema;
  halting: AdvanceHalting;
}

export class TrmTrainer {
  private readonly model: TrmGpuModel;
  private readonly train: StepBuffers;
  private readonly slots: SlotBuffers;
  /** [layout.length] each. */
  private readonly ema: GPUBuffer;
  private readonly adamM: GPUBuffer;
  private readonly adamV: GPUBuffer;
  private readonly evaluations = new Map<number, EvaluationBuffers>();
  private stepOps: StepOps | null = null;
  private exploration: Rng | null;
  private stepCount = 0;
  private lastLr = 0;
  private disposed = false;
  /** The call in progress that records commands or writes device state, which no other call may interleave with. */
  private recording: string | null = null;

  private constructor(
    readonly gpu: Gpu,
    readonly config: TrmConfig,
    initial: TrmParameters,
    private readonly options: TrainerOptions,
  ) {
    this.model = TrmGpuModel.create(gpu, config, initial);
    const { length } = this.model.layout;
    this.ema = gpu.createBufferFrom('ema', initial.dense);
    this.adamM = gpu.createBuffer('adam m', length * 4);
    this.adamV = gpu.createBuffer('adam v', length * 4);
    this.train = this.model.createStepBuffers(config.batch);
    this.slots = this.createSlotBuffers();
    const explorationSeed = options.explorationSeed === undefined ? (options.seed ?? 0) : options.explorationSeed;
    this.exploration = explorationSeed === null ? null : new Rng(explorationSeed);
  }

  /** Uploads the initial state and builds the step's optimizer and halting ops. */
  static async create(gpu: Gpu, config: TrmConfig, options: TrainerOptions = {}): Promise<TrmTrainer> {
    validateConfig(config);
    checkSchedule(config, options);
    const initial = options.parameters ?? initializeParameters(config, options.seed ?? 0);
    const trainer = new TrmTrainer(gpu, config, initial, options);
    try {
      await trainer.createOps();
    } catch (error) {
      trainer.dispose();
      throw error;
    }
    return trainer;
  }

  /** Optimizer steps taken. */
  get step(): number {
    return this.stepCount;
  }

  /** The flat layout of the dense parameters, their gradients, EMA and Adam moments. */
  get layout(): DenseLayout {
    return this.model.layout;
  }

  private createSlotBuffers(): SlotBuffers {
    const { gpu, config } = this;
    const batch = config.batch;
    return {
      steps: gpu.createBuffer('slot steps', batch * 4),
      halted: gpu.createBufferFrom('slot halted', new Uint32Array(batch).fill(1)),
      minSteps: gpu.createBuffer('slot min steps', batch * 4),
      incoming: gpu.createBuffer('incoming batch', slotSizes(this.slotShape(batch)).incoming * 4),
      firstBadStep: gpu.createBufferFrom('first bad step', Uint32Array.of(NO_BAD_STEP)),
      metrics: gpu.createBuffer('metrics', metricsBytes(batch), BufferUsage.COPY_SRC | BufferUsage.COPY_DST),
    };
  }

  private slotShape(batch: number): SlotShape {
    const { config } = this;
    return { batch, prefix: config.puzzleEmbSlots, seq: config.seqLen, hidden: config.hidden, maxSteps: config.maxSupervisionSteps };
  }

  private async createOps(): Promise<void> {
    const { gpu, config, model, train, slots } = this;
    const { length } = model.layout;
    const shape = this.slotShape(config.batch);
    const adamSettings = { rule: 'atan2' as const, beta1: config.beta1, beta2: config.beta2, weightDecay: config.weightDecay, eps: 0 };
    const puzzleRows = { batch: config.batch, hidden: config.hidden, rows: config.numPuzzleIds };
    const ops: Partial<StepOps> = {};
    try {
      ops.reset = await ResetSlots.create(gpu, 'reset halted slots', shape, {
        y: train.y, z: train.z, hInit: model.hInit, lInit: model.lInit, halted: slots.halted,
        tokens: train.tokens, labels: train.labels, puzzleIds: train.puzzleIds, steps: slots.steps, incoming: slots.incoming,
      });
      ops.adam = await Adam.create(gpu, 'adam-atan2', length, { param: model.params, grad: model.grads, m: this.adamM, v: this.adamV }, adamSettings);
      ops.signSgd = await SignSgd.create(gpu, 'puzzle embedding sign-sgd', puzzleRows, { table: model.puzzleTable, grads: train.dPuzzle, ids: train.puzzleIds }, config.puzzleEmbWeightDecay);
      ops.ema = await Ema.create(gpu, 'ema', length, { shadow: this.ema, param: model.params }, config.emaRate);
      ops.halting = await AdvanceHalting.create(gpu, 'advance halting', shape, {
        steps: slots.steps, halted: slots.halted, qHalt: train.qHalt, minSteps: slots.minSteps,
        seqLoss: train.seqLoss, qHaltLoss: train.qHaltLoss, firstBadStep: slots.firstBadStep,
      });
    } catch (error) {
      for (const op of Object.values(ops)) op.destroy();
      throw error;
    }
    this.stepOps = ops as StepOps;
  }

  /**
   * Records and submits one optimizer step on `batch` (config.batch samples). Nothing is read
   * back; await each call before the next one, as the step's uniforms are written when it starts.
   */
  async trainStep(batch: TrainingBatch): Promise<void> {
    this.checkOpen('trainStep');
    checkTrainingBatch('trainStep', this.config, batch, this.config.batch);
    await this.exclusive('trainStep', () => this.recordStep(batch));
  }

  private async recordStep(batch: TrainingBatch): Promise<void> {
    const { gpu, config, slots } = this;
    const { reset, adam, signSgd, ema, halting } = this.requireOps();
    const step = this.stepCount + 1;

    gpu.upload(slots.incoming, concatenate(batch.inputs, batch.labels, batch.puzzleIds));
    const lr = learningRateAt(step, this.schedule(config.lr));
    adam.setStep(step, lr);
    signSgd.setLearningRate(learningRateAt(step, this.schedule(config.puzzleEmbLr)));
    halting.setStep(step);
    if (this.exploration && config.maxSupervisionSteps > 1) {
      const minSteps = sampleMinHaltSteps(this.exploration, config.batch, config.haltExplorationProb, config.maxSupervisionSteps);
      gpu.upload(slots.minSteps, Uint32Array.from(minSteps));
    }

    reset.encode();
    await this.model.supervisionStep(this.train, { weights: this.model.params, train: true });
    adam.encode();
    signSgd.encode();
    ema.encode();
    halting.encode();
    encodeMetricsPack(gpu, { ...this.train, ...slots }, slots.metrics, config.batch);
    gpu.submit();

    this.stepCount = step;
    this.lastLr = lr;
  }

  private schedule(baseLr: number): LearningRateSchedule {
    const { totalSteps, lrMinRatio } = this.options;
    return { baseLr, warmupSteps: this.config.warmupSteps, totalSteps: totalSteps ?? this.config.warmupSteps, minRatio: lrMinRatio ?? 1 };
  }

  /** Reads the last step's metrics; throws when a loss of any step so far was NaN or ±∞, naming the first. */
  async readMetrics(): Promise<TrainMetrics> {
    this.checkOpen('readMetrics');
    if (this.stepCount === 0) throw new Error('readMetrics: no training step has run yet, so there are no metrics');
    const bytes = await this.gpu.read(this.slots.metrics);
    return summarizeMetrics(bytes, this.config.batch, this.stepCount, this.lastLr);
  }

  /**
   * Runs maxSupervisionSteps supervision steps from H_init, L_init without halting, as the
   * reference evaluates, on the EMA weights (or the raw ones with weights 'params').
   */
  async evaluate(batch: ModelBatch, options: { weights?: 'ema' | 'params' } = {}): Promise<Evaluation> {
    this.checkOpen('evaluate');
    const size = checkModelBatch('evaluate', this.config, batch);
    return this.exclusive('evaluate', () => this.recordEvaluation(batch, size, options.weights ?? 'ema'));
  }

  private async recordEvaluation(batch: ModelBatch, size: number, weightsName: 'ema' | 'params'): Promise<Evaluation> {
    const { gpu, config } = this;
    const buffers = await this.evaluationBuffers(size);
    const weights = weightsName === 'params' ? this.model.params : this.ema;
    const steps = config.maxSupervisionSteps;

    gpu.upload(buffers.step.tokens, batch.inputs);
    gpu.upload(buffers.step.puzzleIds, batch.puzzleIds);
    buffers.fill.encode();
    for (let s = 0; s < steps; s++) {
      await this.model.supervisionStep(buffers.step, { weights, train: false });
      await this.encodePredictions(buffers, s);
      gpu.copy(buffers.step.qHalt, 0, buffers.qHalt, s * size * 4, size * 4);
    }

    const tokens = new Int32Array(await gpu.read(buffers.predictions, steps * size * config.seqLen * 4));
    const qHalt = await gpu.readFloat32(buffers.qHalt, steps * size);
    const logits = await gpu.readFloat32(buffers.step.logits, size * config.seqLen * config.vocab);
    const perStep = size * config.seqLen;
    return {
      logits,
      tokens: Array.from({ length: steps }, (_, s) => tokens.slice(s * perStep, (s + 1) * perStep)),
      qHalt: Array.from({ length: steps }, (_, s) => qHalt.slice(s * size, (s + 1) * size)),
    };
  }

  private async evaluationBuffers(batch: number): Promise<EvaluationBuffers> {
    const cached = this.evaluations.get(batch);
    if (cached) return cached;

    const { gpu, config, model } = this;
    const step = model.createStepBuffers(batch);
    const steps = config.maxSupervisionSteps;
    const buffers: EvaluationBuffers = {
      step,
      fill: await FillCarry.create(gpu, `initial carry (batch ${batch})`, this.slotShape(batch), { y: step.y, z: step.z, hInit: model.hInit, lInit: model.lInit }),
      predictions: gpu.createBuffer('evaluation predictions', steps * batch * config.seqLen * 4),
      qHalt: gpu.createBuffer('evaluation q_halt', steps * batch * 4),
    };
    this.evaluations.set(batch, buffers);
    return buffers;
  }

  private async encodePredictions(buffers: EvaluationBuffers, step: number): Promise<void> {
    const { batch } = buffers.step;
    const rows = batch * this.config.seqLen;
    const shape = { rows, vocab: this.config.vocab, outputOffset: step * rows };
    const name = `evaluation predictions step ${step + 1}`;
    const bindings = { logits: buffers.step.logits, predictions: buffers.predictions };
    const op = await this.model.arena.op(name, shape, Object.values(bindings), () => ArgmaxRows.create(this.gpu, name, shape, bindings));
    op.encode();
  }

  /** Reads the whole training state; `tensors` contains params by state_dict name. */
  async exportState(): Promise<TrainerState & { tensors: Map<string, Float32Array> }> {
    this.checkOpen('exportState');
    const { gpu, config, model } = this;
    const { length } = model.layout;
    const params: TrmParameters = {
      dense: await gpu.readFloat32(model.params, length),
      puzzleEmb: await gpu.readFloat32(model.puzzleTable, config.numPuzzleIds * config.hidden),
      hInit: await gpu.readFloat32(model.hInit, config.hidden),
      lInit: await gpu.readFloat32(model.lInit, config.hidden),
    };
    return {
      step: this.stepCount,
      params,
      ema: await gpu.readFloat32(this.ema, length),
      adamM: await gpu.readFloat32(this.adamM, length),
      adamV: await gpu.readFloat32(this.adamV, length),
      slots: await this.readSlots(),
      explorationRng: this.exploration?.saveState() ?? null,
      tensors: namedTensors(model.layout, params),
    };
  }

  private async readSlots(): Promise<SlotSnapshot> {
    const { gpu, train, slots } = this;
    const sizes = slotSizes(this.slotShape(this.config.batch));
    const readInt32 = async (buffer: GPUBuffer, count: number) => new Int32Array(await gpu.read(buffer, count * 4));
    const readUint32 = async (buffer: GPUBuffer) => new Uint32Array(await gpu.read(buffer, this.config.batch * 4));
    return {
      y: await gpu.readFloat32(train.y, sizes.carry),
      z: await gpu.readFloat32(train.z, sizes.carry),
      tokens: await readInt32(train.tokens, sizes.tokens),
      labels: await readInt32(train.labels, sizes.tokens),
      puzzleIds: await readInt32(train.puzzleIds, this.config.batch),
      steps: await readUint32(slots.steps),
      halted: await readUint32(slots.halted),
      minSteps: await readUint32(slots.minSteps),
    };
  }

  /**
   * Replaces the training state: without ema it starts from params.dense, without Adam
   * moments from zero, without step from 0. Without slots every slot starts a new puzzle at
   * the next step, and without explorationRng the exploration draws continue from their
   * current state.
   */
  async loadState(state: LoadableState): Promise<void> {
    this.checkOpen('loadState');
    checkState(this.config, this.model.layout, state);
    await this.exclusive('loadState', () => this.uploadState(state));
  }

  private async uploadState(state: LoadableState): Promise<void> {
    const { gpu, model, slots } = this;
    const { length } = model.layout;

    gpu.upload(model.params, state.params.dense);
    gpu.upload(model.puzzleTable, state.params.puzzleEmb);
    gpu.upload(model.hInit, state.params.hInit);
    gpu.upload(model.lInit, state.params.lInit);
    gpu.upload(this.ema, state.ema ?? state.params.dense);
    gpu.upload(this.adamM, state.adamM ?? new Float32Array(length));
    gpu.upload(this.adamV, state.adamV ?? new Float32Array(length));
    if (state.slots) this.uploadSlots(state.slots);
    else this.restartSlots();
    gpu.upload(slots.firstBadStep, Uint32Array.of(NO_BAD_STEP));
    await gpu.sync('loadState');

    this.stepCount = state.step ?? 0;
    if (state.explorationRng !== undefined) this.exploration = state.explorationRng === null ? null : Rng.fromState(state.explorationRng);
  }

  private uploadSlots(snapshot: SlotSnapshot): void {
    const { gpu, train, slots } = this;
    gpu.upload(train.y, snapshot.y);
    gpu.upload(train.z, snapshot.z);
    gpu.upload(train.tokens, snapshot.tokens);
    gpu.upload(train.labels, snapshot.labels);
    gpu.upload(train.puzzleIds, snapshot.puzzleIds);
    gpu.upload(slots.steps, snapshot.steps);
    gpu.upload(slots.halted, snapshot.halted);
    gpu.upload(slots.minSteps, snapshot.minSteps);
  }

  /** Marks every slot halted, so that the next step's reset gives each one a new puzzle. */
  private restartSlots(): void {
    const { gpu, config, slots } = this;
    gpu.upload(slots.halted, new Uint32Array(config.batch).fill(1));
    gpu.upload(slots.steps, new Uint32Array(config.batch));
    gpu.upload(slots.minSteps, new Uint32Array(config.batch));
  }

  /** Reads the last training step's logits [batch, seqLen, vocab]. */
  async readLogits(): Promise<Float32Array> {
    this.checkOpen('readLogits');
    return this.gpu.readFloat32(this.train.logits, this.config.batch * this.config.seqLen * this.config.vocab);
  }

  /** Reads the last step's gradients: dense [layout.length] and each slot's puzzle-row gradient [batch, hidden]. */
  async readGradients(): Promise<{ grads: Float32Array; dPuzzleEmb: Float32Array }> {
    this.checkOpen('readGradients');
    return {
      grads: await this.gpu.readFloat32(this.model.grads, this.model.layout.length),
      dPuzzleEmb: await this.gpu.readFloat32(this.train.dPuzzle, this.config.batch * this.config.hidden),
    };
  }

  /** Destroys every buffer and op of the trainer; later calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const op of Object.values(this.stepOps ?? {})) op.destroy();
    for (const { step, fill, predictions, qHalt } of this.evaluations.values()) {
      fill.destroy();
      this.model.destroyStepBuffers(step);
      this.gpu.destroyBuffer(predictions);
      this.gpu.destroyBuffer(qHalt);
    }
    this.evaluations.clear();
    for (const buffer of [this.ema, this.adamM, this.adamV, ...Object.values(this.slots)]) this.gpu.destroyBuffer(buffer);
    this.model.destroyStepBuffers(this.train);
    this.model.dispose();
  }

  /** Runs body, during which checkOpen() rejects every other call. */
  private async exclusive<T>(method: string, body: () => Promise<T>): Promise<T> {
    this.recording = method;
    try {
      return await body();
    } finally {
      this.recording = null;
    }
  }

  private checkOpen(method: string): void {
    if (this.disposed) throw new Error(`${method}: the trainer has been disposed; create a new one`);
    if (this.recording) throw new Error(`${method}: ${this.recording}() has not finished; await each call before the next`);
  }

  private requireOps(): StepOps {
    if (!this.stepOps) throw new Error('the trainer was not created with TrmTrainer.create()');
    return this.stepOps;
  }
}

function checkSchedule(config: TrmConfig, options: TrainerOptions): void {
  const { totalSteps, lrMinRatio = 1 } = options;
  if (!(lrMinRatio >= 0 && lrMinRatio <= 1)) throw new RangeError(`TrainerOptions.lrMinRatio is ${lrMinRatio}, expected a value in [0, 1]`);
  if (lrMinRatio < 1 && !(Number.isInteger(totalSteps) && (totalSteps as number) > config.warmupSteps)) {
    throw new RangeError(`TrainerOptions.totalSteps is ${totalSteps}, but a decaying learning rate (lrMinRatio ${lrMinRatio}) needs an integer above warmupSteps = ${config.warmupSteps}`);
  }
}

function concatenate(...arrays: Int32Array[]): Int32Array {
  const out = new Int32Array(arrays.reduce((total, array) => total + array.length, 0));
  let offset = 0;
  for (const array of arrays) {
    out.set(array, offset);
    offset += array.length;
  }
  return out;
}
