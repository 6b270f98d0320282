// The public model API, the same in Node and in the browser bundle. It creates or loads a TRM,
// trains it step by step, evaluates it, and solves one Sudoku with the grid after every
// supervision step. It also saves the model as safetensors and destroys every buffer it created.
import { createGpu } from './gpu/device.js';
import type { AdapterSummary, Gpu } from './gpu/gpu.js';
import { IGNORE_LABEL } from './kernels/losses.js';
import { CheckpointError, decodeModelCheckpoint, TRAINING_STATE_PREFIX } from './model/checkpoint.js';
import { trmConfig, validateConfig, type TrmConfig, type TrmConfigName } from './model/config.js';
import type { TrainMetrics } from './model/gpu/metrics.js';
import type { LoadableState } from './model/gpu/state.js';
import { TrmTrainer } from './model/gpu/trainer.js';
import {
  cellCount, conflictingCells, describeGeometry, findContradiction, findGeometryForLength, findGridConflict, findGridTextError, parseGrid, vocabSize,
  type SudokuGeometry, type SudokuSet,
} from './data/sudoku.js';
import { decodeCheckpoint, encodeCheckpoint } from './train/state.js';
import { accumulateBatch, emptyTotals, summarize, type EvaluationReport, type StepPredictions } from './train/evaluation.js';
import { evaluationBatches, type BatcherState, type TokenBatch } from './train/sudoku-batches.js';

export interface TrmOptions {
  /**
   * A device the application already has. The model creates its buffers and pipelines on it
   * and never destroys it. Default: a new device from navigator.gpu, or from Dawn in Node.
   */
  device?: GPUDevice;
  /** A preset name or a complete config; default 'tiny-mlp'. */
  config?: TrmConfigName | TrmConfig;
  /** Fields that replace the config's, such as { batch: 16 }. */
  overrides?: Partial<TrmConfig>;
  /** Fits the vocabulary and sequence length to this Sudoku size, as `trm train` does for its data. */
  geometry?: SudokuGeometry;
  /** Seed of the initial parameters and of the halting exploration; default 0. */
  seed?: number;
}

export interface LoadOptions {
  device?: GPUDevice;
  /** Training fields that replace the checkpoint's, such as { batch: 8, lr: 1e-4 }. Shape fields must match the file. */
  overrides?: Partial<TrmConfig>;
  /** The file's name, used in error messages; default 'bytes passed to Trm.load'. */
  source?: string;
  /** Seed of the halting exploration when training continues; default 0. */
  seed?: number;
}

/** The model's state after one supervision step of a solve. */
export interface SolveStep {
  /** 1-based supervision step. */
  step: number;
  /** Cell values, row-major; 0 where the model predicts a blank or a non-digit token. */
  grid: Uint8Array;
  /** The halting logit: the model considers the puzzle done once it is above 0. */
  qHalt: number;
  /** Cells whose value differs from the previous step (from the puzzle at step 1). */
  changed: number[];
  /** Cells whose digit repeats in their row, column or box. */
  conflicts: number[];
}

export interface SolveResult {
  geometry: SudokuGeometry;
  puzzle: Uint8Array;
  /** One entry per supervision step, maxSupervisionSteps in all. */
  steps: SolveStep[];
  /** The grid of the last step. */
  answer: Uint8Array;
  /** The first step whose q_halt is above 0, or null when the model never halts. */
  haltStep: number | null;
  /** Whether the last grid has no blank, breaks no rule and keeps every given. */
  valid: boolean;
}

/** Parameters that change the tensor shapes; a loaded checkpoint's values of these cannot be overridden. */
const SHAPE_FIELDS = ['variant', 'hidden', 'heads', 'headDim', 'expansion', 'swigluMultiple', 'blocks', 'vocab', 'seqLen', 'puzzleEmbSlots', 'numPuzzleIds'] as const;

/**
 * A TRM on one GPU device with its optimizer state, EMA weights and halting carry. Its
 * asynchronous methods must be awaited one at a time.
 */
export class Trm {
  private disposed = false;

  private constructor(
    private readonly gpu: Gpu,
    private readonly trainer: TrmTrainer,
    private readonly ownsDevice: boolean,
  ) {}

  /** Creates a freshly initialised model. */
  static async create(options: TrmOptions = {}): Promise<Trm> {
    const base = options.config ?? 'tiny-mlp';
    const fitted = options.geometry ? { vocab: vocabSize(options.geometry), seqLen: cellCount(options.geometry), numPuzzleIds: 1 } : {};
    const preset = typeof base === 'string' ? trmConfig(base) : base;
    const config = { ...preset, ...fitted, ...options.overrides };
    validateConfig(config);
    const seed = options.seed ?? 0;
    return Trm.open(options.device, (gpu) => TrmTrainer.create(gpu, config, { seed }));
  }

  /**
   * Loads a safetensors checkpoint: a model file, or a training checkpoint as `trm train`
   * writes it. A training checkpoint also restores the optimizer state, so training continues.
   */
  static async load(bytes: ArrayBuffer | ArrayBufferView, options: LoadOptions = {}): Promise<Trm> {
    const source = options.source ?? 'bytes passed to Trm.load';
    const data = toBytes(bytes, source);
    const model = decodeModelCheckpoint(data, source);
    const config = applyTrainingOverrides(model.config, options.overrides ?? {}, source);
    const hasTrainingState = [...model.tensors.keys()].some((name) => name.startsWith(TRAINING_STATE_PREFIX));
    const state: LoadableState = hasTrainingState ? decodeCheckpoint(data, source).snapshot : { params: model.params };
    // Slot carries are per batch row, so with another batch size every slot starts a new puzzle.
    if (config.batch !== model.config.batch) delete state.slots;

    return Trm.open(options.device, async (gpu) => {
      const trainer = await TrmTrainer.create(gpu, config, { parameters: state.params, seed: options.seed ?? 0 });
      try {
        await trainer.loadState(state);
      } catch (error) {
        trainer.dispose();
        throw error;
      }
      return trainer;
    });
  }

  private static async open(device: GPUDevice | undefined, build: (gpu: Gpu) => Promise<TrmTrainer>): Promise<Trm> {
    const gpu = await createGpu({ device });
    try {
      return new Trm(gpu, await build(gpu), !device);
    } catch (error) {
      if (!device) gpu.destroy();
      throw error;
    }
  }

  get config(): TrmConfig {
    return this.trainer.config;
  }

  /** Optimizer steps taken, including those of a loaded training checkpoint. */
  get step(): number {
    return this.trainer.step;
  }

  /** The Sudoku geometry the model's sequence length fits, or null for other tasks. */
  get geometry(): SudokuGeometry | null {
    return findGeometryForLength(this.config.seqLen) ?? null;
  }

  get adapter(): AdapterSummary {
    return this.gpu.adapter;
  }

  /** Bytes of the GPU buffers this model has created and not yet destroyed. */
  get allocatedBytes(): number {
    return this.gpu.allocatedBytes;
  }

  /**
   * Records one optimizer step on `batch` (config.batch rows, from a TrainingBatcher) and
   * submits it without waiting. Call readMetrics() to wait for it and see its losses.
   */
  async trainStep(batch: TokenBatch): Promise<void> {
    this.requireOpen('trainStep');
    await this.trainer.trainStep(batch);
  }

  /** Waits for the last training step and reads its losses and accuracies. */
  async readMetrics(): Promise<TrainMetrics> {
    this.requireOpen('readMetrics');
    return this.trainer.readMetrics();
  }

  /** Scores the EMA weights on the first `limit` puzzles of `set`, over every supervision step. */
  async evaluate(set: SudokuSet, options: { limit?: number } = {}): Promise<EvaluationReport> {
    this.requireOpen('evaluate');
    this.requireGeometry('evaluate', set.geometry);
    const totals = emptyTotals();
    for (const batch of evaluationBatches(set, this.config.batch, options.limit ?? set.count)) {
      accumulateBatch(totals, batch, await this.trainer.evaluate(batch));
    }
    return summarize(totals);
  }

  /**
   * Runs every supervision step on one puzzle with the EMA weights. `puzzle` is a row-major
   * string ('.' or '0' for blanks) or an array of cell values (0 for blanks).
   */
  async solve(puzzle: string | ArrayLike<number>): Promise<SolveResult> {
    this.requireOpen('solve');
    const geometry = this.requireGeometry('solve');
    const cells = parsePuzzle(puzzle, geometry);
    return solveResultFrom(await this.trainer.evaluate(puzzleBatch(cells)), cells, geometry);
  }

  /**
   * Serialises the model as a training checkpoint, the format `trm train` writes: the EMA
   * weights under the reference's tensor names (what `trm eval` and `trm solve` load), plus the
   * training state: raw weights, Adam moments and slot carries. `batcher` records the position
   * in a training stream.
   */
  async saveCheckpoint(batcher: BatcherState = { epoch: 0, position: 0 }): Promise<Uint8Array> {
    this.requireOpen('saveCheckpoint');
    return encodeCheckpoint(this.config, await this.trainer.exportState(), batcher);
  }

  /** Destroys the model's GPU buffers, and the device too when the model created it. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.trainer.dispose();
    if (this.ownsDevice) this.gpu.destroy();
    else this.gpu.detach();
  }

  private requireOpen(method: string): void {
    if (this.disposed) throw new Error(`${method}: this model has been disposed; create or load a new one`);
  }

  private requireGeometry(method: string, puzzleGeometry?: SudokuGeometry): SudokuGeometry {
    const geometry = this.geometry;
    if (!geometry) throw new Error(`${method}: the model's sequence length ${this.config.seqLen} is not a Sudoku grid (16, 36 or 81 cells)`);
    if (puzzleGeometry && cellCount(puzzleGeometry) !== cellCount(geometry)) {
      throw new Error(`${method}: the puzzles are ${describeGeometry(puzzleGeometry)} but the model takes ${describeGeometry(geometry)} grids`);
    }
    return geometry;
  }
}

/** Returns a one-puzzle evaluation batch: tokens = cell value + 1, no labels. */
export function puzzleBatch(cells: Uint8Array): TokenBatch {
  return {
    inputs: Int32Array.from(cells, (value) => value + 1),
    labels: new Int32Array(cells.length).fill(IGNORE_LABEL),
    puzzleIds: new Int32Array(1),
    validRows: 1,
  };
}

/** Builds the per-step view of a one-puzzle evaluation: grids, q_halt, changed and conflicting cells. */
export function solveResultFrom(evaluation: StepPredictions, cells: Uint8Array, geometry: SudokuGeometry): SolveResult {
  const steps: SolveStep[] = [];
  let previous = cells;
  evaluation.tokens.forEach((tokens, index) => {
    const grid = Uint8Array.from(tokens.subarray(0, cells.length), (token) => (token >= 2 ? token - 1 : 0));
    const changed = [...grid.keys()].filter((cell) => grid[cell] !== previous[cell]);
    const conflicts = [...conflictingCells(grid, geometry)].sort((a, b) => a - b);
    steps.push({ step: index + 1, grid, qHalt: evaluation.qHalt[index][0], changed, conflicts });
    previous = grid;
  });

  const last = steps[steps.length - 1];
  const complete = last.grid.every((value) => value !== 0);
  const valid = complete && last.conflicts.length === 0 && findContradiction(cells, last.grid, geometry) === null;
  const halt = steps.find((step) => step.qHalt > 0);
  return { geometry, puzzle: cells, steps, answer: last.grid, haltStep: halt ? halt.step : null, valid };
}

function toBytes(bytes: ArrayBuffer | ArrayBufferView, source: string): Uint8Array {
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new CheckpointError(source, `expected an ArrayBuffer or a typed array of the file's bytes, got ${typeof bytes}`);
}

/** Returns the checkpoint's config with `overrides` applied; a shape field that differs is rejected by name. */
function applyTrainingOverrides(config: TrmConfig, overrides: Partial<TrmConfig>, source: string): TrmConfig {
  for (const field of SHAPE_FIELDS) {
    if (overrides[field] !== undefined && overrides[field] !== config[field]) {
      throw new CheckpointError(source, `override ${field} = ${overrides[field]} does not match the checkpoint's ${config[field]}; only training fields such as batch and lr can change`);
    }
  }
  const merged = { ...config, ...overrides };
  validateConfig(merged);
  return merged;
}

/**
 * Parses and checks a puzzle: its size, its characters or values, and givens that break a
 * rule. Throws a RangeError that names the problem.
 */
export function parsePuzzle(puzzle: string | ArrayLike<number>, geometry: SudokuGeometry): Uint8Array {
  const grid = puzzleCells(puzzle, geometry);
  const conflict = findGridConflict(grid, geometry);
  if (conflict) throw new RangeError(`puzzle is invalid: ${conflict}`);
  return grid;
}

function puzzleCells(puzzle: string | ArrayLike<number>, geometry: SudokuGeometry): Uint8Array {
  if (typeof puzzle === 'string') {
    const text = puzzle.trim();
    const problem = findGridTextError(text, geometry, 'puzzle');
    if (problem) throw new RangeError(problem);
    return parseGrid(text, geometry);
  }

  const cells = cellCount(geometry);
  if (puzzle.length !== cells) throw new RangeError(`puzzle has ${puzzle.length} cells, expected ${cells} for a ${describeGeometry(geometry)} grid`);
  const grid = Uint8Array.from(puzzle);
  const bad = grid.findIndex((value, i) => value > geometry.size || value !== puzzle[i]);
  if (bad >= 0) throw new RangeError(`puzzle cell ${bad + 1} is ${puzzle[bad]}, expected 0 (blank) or a digit 1-${geometry.size}`);
  return grid;
}
