// The trainer's state as host arrays, for checkpoints: what exportState() returns and
// loadState() accepts.
import { slotSizes } from '../../kernels/halting.js';
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
  /** Every slot's carry and puzzle, so that training continues each puzzle where it stopped. */
  slots: SlotSnapshot;
  /** The four xoshiro128** words of the halting-exploration generator; null when exploration is off. */
  explorationRng: [number, number, number, number] | null;
}

/** The per-slot training state between two steps. */
export interface SlotSnapshot {
  /** [batch, prefix + seq, hidden] each: the carries. */
  y: Float32Array;
  z: Float32Array;
  /** i32 [batch, seq] each: the current puzzle's tokens and labels. */
  tokens: Int32Array;
  labels: Int32Array;
  /** i32 [batch] */
  puzzleIds: Int32Array;
  /** u32 [batch] each: supervision steps taken on the current puzzle, halted flags, and the exploration's minimum halt step. */
  steps: Uint32Array;
  halted: Uint32Array;
  minSteps: Uint32Array;
}

/**
 * The part of TrainerState that loadState() needs: without ema it starts from params.dense,
 * without Adam moments from zero, without slots every slot starts a new puzzle, and without
 * explorationRng the generator keeps its current state.
 */
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
    ...slotLengths(config, state.slots),
  ];
  for (const [name, array, expected] of lengths) {
    if (array !== undefined && array.length !== expected) throw new RangeError(`loadState: ${name} has ${array.length} values, expected ${expected} for this config`);
  }
  const step = state.step ?? 0;
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`loadState: step is ${step}, expected a non-negative integer`);
  checkExplorationRng(state.explorationRng);
}

function slotLengths(config: TrmConfig, slots: SlotSnapshot | undefined): [string, { length: number } | undefined, number][] {
  if (!slots) return [];
  const { batch } = config;
  const sizes = slotSizes({ batch, prefix: config.puzzleEmbSlots, seq: config.seqLen, hidden: config.hidden, maxSteps: config.maxSupervisionSteps });
  return [
    ['slots.y', slots.y, sizes.carry],
    ['slots.z', slots.z, sizes.carry],
    ['slots.tokens', slots.tokens, sizes.tokens],
    ['slots.labels', slots.labels, sizes.tokens],
    ['slots.puzzleIds', slots.puzzleIds, batch],
    ['slots.steps', slots.steps, batch],
    ['slots.halted', slots.halted, batch],
    ['slots.minSteps', slots.minSteps, batch],
  ];
}

function checkExplorationRng(words: readonly number[] | null | undefined): void {
  if (!words) return;
  const valid = words.length === 4 && words.every((word) => Number.isInteger(word) && word >= 0 && word <= 0xffffffff) && words.some((word) => word !== 0);
  if (!valid) throw new RangeError(`loadState: explorationRng is [${words.join(', ')}], expected four 32-bit unsigned words, not all zero`);
}
