// Training checkpoints: one safetensors file with the model under the reference's tensor names
// (its EMA weights, which evaluation uses, so `trm eval` and `trm solve` load it directly) plus
// the training state under `train.`: raw weights, Adam moments, the step and the position in
// the data stream. One file written atomically means a crash never leaves a model and a state
// from different steps.
import { writeFileAtomic, type WritableTensor } from '../io/safetensors.js';
import { CheckpointError, decodeModelCheckpoint, encodeModelCheckpoint, TRAINING_STATE_PREFIX } from '../model/checkpoint.js';
import type { TrmConfig } from '../model/config.js';
import { denseLayout } from '../model/parameters.js';
import type { TrainingSnapshot } from './engine.js';
import type { BatcherState } from './sudoku-batches.js';

const RAW_WEIGHTS = `${TRAINING_STATE_PREFIX}params.dense`;
const ADAM_M = `${TRAINING_STATE_PREFIX}adam.m`;
const ADAM_V = `${TRAINING_STATE_PREFIX}adam.v`;

export interface SavedRun {
  snapshot: TrainingSnapshot;
  batcher: BatcherState;
  config: TrmConfig;
}

export function encodeCheckpoint(config: TrmConfig, snapshot: TrainingSnapshot, batcher: BatcherState): Uint8Array {
  const flat = (data: Float32Array): WritableTensor => ({ shape: [data.length], data });
  const state = new Map([
    [RAW_WEIGHTS, flat(snapshot.params.dense)],
    [ADAM_M, flat(snapshot.adamM)],
    [ADAM_V, flat(snapshot.adamV)],
  ]);
  const emaModel = { ...snapshot.params, dense: snapshot.ema };
  const metadata = { step: String(snapshot.step), weights: 'ema', batcher: JSON.stringify(batcher) };
  return encodeModelCheckpoint(config, emaModel, metadata, state);
}

export async function saveCheckpoint(path: string, config: TrmConfig, snapshot: TrainingSnapshot, batcher: BatcherState): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(config, snapshot, batcher));
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

  const snapshot: TrainingSnapshot = {
    step,
    params: { ...model.params, dense: flat(RAW_WEIGHTS) },
    ema: model.params.dense,
    adamM: flat(ADAM_M),
    adamV: flat(ADAM_V),
  };
  return { snapshot, batcher: parseBatcher(source, model.metadata.batcher), config: model.config };
}

export async function loadCheckpoint(path: string): Promise<SavedRun> {
  const { readFile } = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new CheckpointError(path, `cannot be read: ${(cause as Error).message}`);
  }
  return decodeCheckpoint(bytes, path);
}

function parseBatcher(source: string, text: string | undefined): BatcherState {
  try {
    const state = JSON.parse(text ?? '') as BatcherState;
    if (Number.isInteger(state.epoch) && Number.isInteger(state.position) && state.epoch >= 0 && state.position >= 0) return state;
  } catch {
    // Reported below with the value.
  }
  throw new CheckpointError(source, `metadata 'batcher' is '${text}', expected {"epoch": N, "position": N}`);
}
