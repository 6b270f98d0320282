// Training checkpoints: one safetensors file with the model under the reference's tensor names
// (its EMA weights, which evaluation uses, so `trm eval` and `trm solve` load it directly) plus
// the training state under `train.`: raw weights, Adam moments, every slot's carry and puzzle,
// and in the metadata the step, the position in the data stream, the halting-exploration
// generator and the matmul variants. One file written atomically means a crash never leaves a
// model and a state from different steps.
import { writeFileAtomic, type SafetensorsTensor, type WritableTensor } from '../io/safetensors.js';
import { slotSizes } from '../kernels/halting.js';
import type { MatmulChoices } from '../kernels/matmul-tuning.js';
import { CheckpointError, decodeModelCheckpoint, readCheckpointFile, encodeModelCheckpoint, TRAINING_STATE_PREFIX } from '../model/checkpoint.js';
import type { TrmConfig } from '../model/config.js';
import type { SlotSnapshot } from '../model/gpu/state.js';
import { denseLayout } from '../model/parameters.js';
import type { TrainingSnapshot } from './engine.js';
import type { BatcherState } from './sudoku-batches.js';

const RAW_WEIGHTS = `${TRAINING_STATE_PREFIX}params.dense`;
const ADAM_M = `${TRAINING_STATE_PREFIX}adam.m`;
const ADAM_V = `${TRAINING_STATE_PREFIX}adam.v`;

/** Slot tensor names by SlotSnapshot field; u32 fields are stored as I32 with the same bits. */
const SLOT_TENSORS: Record<keyof SlotSnapshot, string> = {
  y: `${TRAINING_STATE_PREFIX}slots.y`,
  z: `${TRAINING_STATE_PREFIX}slots.z`,
  tokens: `${TRAINING_STATE_PREFIX}slots.tokens`,
  labels: `${TRAINING_STATE_PREFIX}slots.labels`,
  puzzleIds: `${TRAINING_STATE_PREFIX}slots.puzzle_ids`,
  steps: `${TRAINING_STATE_PREFIX}slots.steps`,
  halted: `${TRAINING_STATE_PREFIX}slots.halted`,
  minSteps: `${TRAINING_STATE_PREFIX}slots.min_steps`,
};

/**
 * The trainer state a checkpoint stores. Files written before slots and explorationRng were
 * saved lack them, and a resume from such a file starts every slot on a new puzzle.
 */
export type CheckpointState = Omit<TrainingSnapshot, 'slots' | 'explorationRng'> & Partial<Pick<TrainingSnapshot, 'slots' | 'explorationRng'>>;

export interface SavedRun {
  snapshot: CheckpointState;
  batcher: BatcherState;
  /** The matmul variant of every shape the run used; empty in older files. */
  matmulChoices: MatmulChoices;
  config: TrmConfig;
}

export function encodeCheckpoint(config: TrmConfig, snapshot: CheckpointState, batcher: BatcherState, matmulChoices: MatmulChoices = {}): Uint8Array {
  const flat = (data: Float32Array): WritableTensor => ({ shape: [data.length], data });
  const state = new Map([
    [RAW_WEIGHTS, flat(snapshot.params.dense)],
    [ADAM_M, flat(snapshot.adamM)],
    [ADAM_V, flat(snapshot.adamV)],
    ...(snapshot.slots ? slotTensors(config, snapshot.slots) : []),
  ]);
  const emaModel = { ...snapshot.params, dense: snapshot.ema };
  const metadata: Record<string, string> = { step: String(snapshot.step), weights: 'ema', batcher: JSON.stringify(batcher), matmul_variants: JSON.stringify(matmulChoices) };
  if (snapshot.explorationRng !== undefined) metadata.exploration_rng = JSON.stringify(snapshot.explorationRng);
  return encodeModelCheckpoint(config, emaModel, metadata, state);
}

export async function saveCheckpoint(path: string, config: TrmConfig, snapshot: CheckpointState, batcher: BatcherState, matmulChoices: MatmulChoices = {}): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(config, snapshot, batcher, matmulChoices));
}

function slotTensors(config: TrmConfig, slots: SlotSnapshot): [string, WritableTensor][] {
  const { batch, seqLen, hidden } = config;
  const rows = config.puzzleEmbSlots + seqLen;
  const asInt32 = (data: Uint32Array) => new Int32Array(data.buffer, data.byteOffset, data.length);
  return [
    [SLOT_TENSORS.y, { shape: [batch, rows, hidden], data: slots.y }],
    [SLOT_TENSORS.z, { shape: [batch, rows, hidden], data: slots.z }],
    [SLOT_TENSORS.tokens, { shape: [batch, seqLen], data: slots.tokens }],
    [SLOT_TENSORS.labels, { shape: [batch, seqLen], data: slots.labels }],
    [SLOT_TENSORS.puzzleIds, { shape: [batch], data: slots.puzzleIds }],
    [SLOT_TENSORS.steps, { shape: [batch], data: asInt32(slots.steps) }],
    [SLOT_TENSORS.halted, { shape: [batch], data: asInt32(slots.halted) }],
    [SLOT_TENSORS.minSteps, { shape: [batch], data: asInt32(slots.minSteps) }],
  ];
}

/** Reads a training checkpoint; a model-only file (no `train.` tensors) is rejected by name. */
export function decodeCheckpoint(bytes: Uint8Array, source: string): SavedRun {
  const model = decodeModelCheckpoint(bytes, source);
  const length = denseLayout(model.config).length;
  const flat = (name: string): Float32Array => {
    const tensor = model.tensors.get(name);
    if (!tensor) throw new CheckpointError(source, `tensor '${name}' is missing, so this is a model without training state and cannot be resumed`);
    if (!(tensor.data instanceof Float32Array) || tensor.data.length !== length) {
      throw new CheckpointError(source, `tensor '${name}' has ${tensor.data.length} values, expected ${length} float values`);
    }
    return tensor.data;
  };

  const step = Number(model.metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new CheckpointError(source, `metadata 'step' is '${model.metadata.step}', expected a non-negative integer`);

  const snapshot: CheckpointState = {
    step,
    params: { ...model.params, dense: flat(RAW_WEIGHTS) },
    ema: model.params.dense,
    adamM: flat(ADAM_M),
    adamV: flat(ADAM_V),
    slots: readSlots(source, model.config, model.tensors),
    explorationRng: parseExplorationRng(source, model.metadata.exploration_rng),
  };
  return {
    snapshot,
    batcher: parseBatcher(source, model.metadata.batcher),
    matmulChoices: parseMatmulChoices(source, model.metadata.matmul_variants),
    config: model.config,
  };
}

/** Reads the slot tensors: all of them, or none from a file written before they were saved. */
function readSlots(source: string, config: TrmConfig, tensors: ReadonlyMap<string, SafetensorsTensor>): SlotSnapshot | undefined {
  const present = Object.values(SLOT_TENSORS).filter((name) => tensors.has(name));
  if (present.length === 0) return undefined;

  const sizes = slotSizes({ batch: config.batch, prefix: config.puzzleEmbSlots, seq: config.seqLen, hidden: config.hidden, maxSteps: config.maxSupervisionSteps });
  const read = (field: keyof SlotSnapshot, dtype: 'F32' | 'I32', length: number): Float32Array | Int32Array => {
    const name = SLOT_TENSORS[field];
    const tensor = tensors.get(name);
    if (!tensor) throw new CheckpointError(source, `tensor '${name}' is missing but other slot tensors are present, so the file is incomplete; resume from an intact checkpoint`);
    if (tensor.dtype !== dtype || tensor.data.length !== length) {
      throw new CheckpointError(source, `tensor '${name}' is ${tensor.dtype} with ${tensor.data.length} values, expected ${length} ${dtype} values`);
    }
    return tensor.data as Float32Array | Int32Array;
  };
  const float32 = (field: keyof SlotSnapshot, length: number) => read(field, 'F32', length) as Float32Array;
  const int32 = (field: keyof SlotSnapshot, length: number) => read(field, 'I32', length) as Int32Array;
  const uint32 = (field: keyof SlotSnapshot) => {
    const data = int32(field, config.batch);
    return new Uint32Array(data.buffer, data.byteOffset, data.length);
  };

  return {
    y: float32('y', sizes.carry),
    z: float32('z', sizes.carry),
    tokens: int32('tokens', sizes.tokens),
    labels: int32('labels', sizes.tokens),
    puzzleIds: int32('puzzleIds', config.batch),
    steps: uint32('steps'),
    halted: uint32('halted'),
    minSteps: uint32('minSteps'),
  };
}

export async function loadCheckpoint(path: string): Promise<SavedRun> {
  const bytes = await readCheckpointFile(path);
  return decodeCheckpoint(bytes, path);
}

function parseBatcher(source: string, text: string | undefined): BatcherState {
  const isState = (value: unknown): value is BatcherState => {
    const state = value as BatcherState;
    return typeof value === 'object' && value !== null && Number.isInteger(state.epoch) && Number.isInteger(state.position) && state.epoch >= 0 && state.position >= 0;
  };
  return parseMetadataJson(source, 'batcher', text ?? '', isState, '{"epoch": N, "position": N}');
}

/** Returns undefined for a file written before the generator was saved. */
function parseExplorationRng(source: string, text: string | undefined): CheckpointState['explorationRng'] {
  if (text === undefined) return undefined;
  const isWords = (value: unknown): value is [number, number, number, number] | null =>
    value === null || (Array.isArray(value) && value.length === 4 && value.every((word) => Number.isInteger(word) && word >= 0 && word <= 0xffffffff));
  return parseMetadataJson(source, 'exploration_rng', text, isWords, 'null or four 32-bit unsigned integers');
}

function parseMatmulChoices(source: string, text: string | undefined): MatmulChoices {
  if (text === undefined) return {};
  const isChoices = (value: unknown): value is MatmulChoices =>
    typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((variant) => typeof variant === 'string');
  return parseMetadataJson(source, 'matmul_variants', text, isChoices, 'an object of matmul variant names by shape');
}

/** Parses a metadata entry as JSON and checks its shape; invalid JSON and a wrong shape get the same error. */
function parseMetadataJson<T>(source: string, key: string, text: string, isValid: (value: unknown) => value is T, expected: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (value !== undefined && isValid(value)) return value;
  throw new CheckpointError(source, `metadata '${key}' is '${text}', expected ${expected}`);
}
