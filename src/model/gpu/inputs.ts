// Host-side checks of what callers hand the GPU trainer. On the device a bad token or puzzle id
// would only turn a sample's activations into NaN, so it is rejected here by index and value.
import { ShapeError } from '../../gpu/errors.js';
import { IGNORE_LABEL } from '../../kernels/losses.js';
import type { TrmConfig } from '../config.js';

/** Token ids of a batch of grids: inputs [batch, seqLen] and puzzle ids [batch]. */
export interface ModelBatch {
  inputs: Int32Array;
  puzzleIds: Int32Array;
}

/** A training batch: ModelBatch plus labels [batch, seqLen], token ids or IGNORE_LABEL (−100). */
export interface TrainingBatch extends ModelBatch {
  labels: Int32Array;
}

/** Checks a ModelBatch against the config and returns its batch size. */
export function checkModelBatch(where: string, config: TrmConfig, batch: ModelBatch): number {
  const samples = checkArray(where, 'puzzleIds', batch.puzzleIds);
  if (samples === 0) throw new ShapeError(`${where}: the batch is empty (puzzleIds has no entries), expected at least one sample`);
  checkTokenArray(where, 'inputs', config, batch.inputs, samples);
  checkValues(where, 'inputs', batch.inputs, (token) => token >= 0 && token < config.vocab, `a token id in [0, ${config.vocab})`);
  checkValues(where, 'puzzleIds', batch.puzzleIds, (id) => id >= 0 && id < config.numPuzzleIds, `a puzzle id in [0, ${config.numPuzzleIds})`);
  return samples;
}

/** Checks a TrainingBatch of exactly `expectedBatch` samples. */
export function checkTrainingBatch(where: string, config: TrmConfig, batch: TrainingBatch, expectedBatch: number): void {
  const samples = checkArray(where, 'puzzleIds', batch.puzzleIds);
  if (samples !== expectedBatch) {
    throw new ShapeError(`${where}: the batch has ${samples} samples (puzzleIds.length), expected ${expectedBatch}, the batch size the trainer was created for`);
  }
  checkModelBatch(where, config, batch);
  checkTokenArray(where, 'labels', config, batch.labels, samples);
  checkValues(where, 'labels', batch.labels, (label) => label === IGNORE_LABEL || (label >= 0 && label < config.vocab), `${IGNORE_LABEL} or a token id in [0, ${config.vocab})`);
}

function checkArray(where: string, name: string, values: unknown): number {
  if (!(values instanceof Int32Array)) throw new TypeError(`${where}: ${name} must be an Int32Array, got ${describe(values)}`);
  return values.length;
}

/** Checks that a [batch, seqLen] array has batch · seqLen entries; the error gives the sequence length it has instead. */
function checkTokenArray(where: string, name: string, config: TrmConfig, values: Int32Array, samples: number): void {
  checkArray(where, name, values);
  const expected = samples * config.seqLen;
  if (values.length === expected) return;
  const perSample = values.length % samples === 0 ? `, i.e. sequences of ${values.length / samples} tokens,` : '';
  throw new ShapeError(`${where}: ${name} has ${values.length} entries${perSample} but ${samples} samples of seqLen ${config.seqLen} need ${expected}`);
}

function checkValues(where: string, name: string, values: Int32Array, valid: (value: number) => boolean, expected: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!valid(values[i])) throw new RangeError(`${where}: ${name}[${i}] is ${values[i]}, expected ${expected}`);
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  return typeof value === 'object' ? value.constructor.name : typeof value;
}
