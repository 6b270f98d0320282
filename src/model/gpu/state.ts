// The trainer's state as host arrays, for checkpoints: what exportState() returns and
// loadState() accepts.
import type { TrmConfig } from '../config.js';
import type { TrmParameters } from '../init.js';
import { H_INIT, L_INIT, PUZZLE_EMBEDDING, type DenseLayout } from '../parameters.js';

export interface TrainerState {
  /** Optimizer steps taken. */
  step: number;
  /** The trained values: dense [layout.length] in the flat layout, puzzle table, H_init, L_init. */
  params: TrmParameters;
  /** [layout.length]: EMA of params.dense, the weights evaluation uses. */
  ema: Float32Array;
  /** [layout.length] each: AdamATan2 first and second moments. */
  adamM: Float32Array;
  adamV: Float32Array;
}

/** The part of TrainerState that loadState() needs: without ema it starts from params.dense, without Adam moments from zero. */
export type LoadableState = Pick<TrainerState, 'params'> & Partial<Omit<TrainerState, 'params'>>;

/** Copies of every tensor by its state_dict name: the dense ones from `dense` [layout.length], then the buffers. */
export function namedTensors(layout: DenseLayout, params: TrmParameters, dense: Float32Array = params.dense): Map<string, Float32Array> {
  const tensors = new Map<string, Float32Array>();
  for (const slot of layout.tensors) tensors.set(slot.name, dense.slice(slot.offset, slot.offset + slot.size));
  tensors.set(PUZZLE_EMBEDDING, params.puzzleEmb.slice());
  tensors.set(H_INIT, params.hInit.slice());
  tensors.set(L_INIT, params.lInit.slice());
  return tensors;
}

/** Throws a RangeError naming the first array of `state` whose length does not fit the config. */
export function checkState(config: TrmConfig, layout: DenseLayout, state: LoadableState): void {
  const lengths: [string, { length: number } | undefined, number][] = [
    ['params.dense', state.params.dense, layout.length],
    ['params.puzzleEmb', state.params.puzzleEmb, config.numPuzzleIds * config.hidden],
    ['params.hInit', state.params.hInit, config.hidden],
    ['params.lInit', state.params.lInit, config.hidden],
    ['ema', state.ema, layout.length],
    ['adamM', state.adamM, layout.length],
    ['adamV', state.adamV, layout.length],
  ];
  for (const [name, array, expected] of lengths) {
    if (array !== undefined && array.length !== expected) throw new RangeError(`loadState: ${name} has ${array.length} values, expected ${expected} for this config`);
  }
  const step = state.step ?? 0;
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`loadState: step is ${step}, expected a non-negative integer`);
}
