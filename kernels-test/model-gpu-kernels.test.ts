// The kernels written for the GPU model (heads.wgsl, halting.wgsl, batch-sum.wgsl) against
// their float64 references, in every runtime. Outputs start as NaN or as sentinel values, so an
// element a kernel fails to write, or writes although it should not, shows.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { batchSumReference } from '../src/kernels/batch-sum.js';
import { advanceHaltingReference, NO_BAD_STEP, resetSlotsReference, slotSizes, type SlotShape } from '../src/kernels/halting.js';
import {
  argmaxRowsReference,
  gatherRowsReference,
  headsSizes,
  qHaltBackwardReference,
  qHaltReference,
  scatterRowsReference,
  type HaltingHeadShape,
  type RowsShape,
} from '../src/kernels/heads.js';
import type { OpOutputs } from '../src/testing/op-runner.js';
import type { TypedData } from '../src/testing/wire.js';
import { expectClose, randomArray } from './compare.js';
import { openRuntime, selectedRuntimes, type KernelRuntime } from './runtimes.js';

const ROWS: RowsShape = { batch: 3, prefix: 2, seq: 5, hidden: 7 };
const HALTING: HaltingHeadShape = { batch: 3, prefix: 2, seq: 4, hidden: 8, biasOffset: 64 };
const SLOTS: SlotShape = { batch: 3, prefix: 2, seq: 4, hidden: 5, maxSteps: 4 };

function nans(length: number): Float32Array {
  return new Float32Array(length).fill(Number.NaN);
}

function randomInts(length: number, seed: number, high: number): Int32Array {
  return Int32Array.from(randomArray(length, seed), (value) => Math.floor(((value + 1) / 2) * high));
}

const exact = { abs: 0, rel: 0, reductionLength: 1 };
const summed = { abs: 1e-6, rel: 16, reductionLength: 16 };

for (const runtimeName of selectedRuntimes()) {
  describe(`GPU model kernels on ${runtimeName}`, () => {
    let runtime: KernelRuntime;

    beforeAll(async () => {
      runtime = await openRuntime(runtimeName);
    });

    afterAll(async () => {
      await runtime?.close();
    });

    function run(kernel: string, shape: object, inputs: Record<string, TypedData>, outputs: string[], step?: number): Promise<OpOutputs> {
      return runtime.run({ op: 'model.kernel', params: { kernel, shape, outputs, step }, inputs });
    }

    test('gather rows', async () => {
      const sizes = headsSizes(ROWS);
      const y = randomArray(sizes.y, 1);
      const { grid } = await run('gatherRows', ROWS, { y, grid: nans(sizes.grid) }, ['grid']);
      expectClose(grid, gatherRowsReference(ROWS, y), exact, 'grid');
    });

    test('scatter rows', async () => {
      const sizes = headsSizes(ROWS);
      const dGrid = randomArray(sizes.grid, 2);
      const { dY } = await run('scatterRows', ROWS, { dGrid, dY: nans(sizes.y) }, ['dY']);
      expectClose(dY, scatterRowsReference(ROWS, dGrid), exact, 'dY');
    });

    test('q_halt forward', async () => {
      const sizes = headsSizes(HALTING);
      const y = randomArray(sizes.y, 3);
      const head = randomArray(sizes.head, 4);
      const { q } = await run('qHaltForward', HALTING, { y, head, q: nans(HALTING.batch) }, ['q']);
      expectClose(q, qHaltReference(HALTING, y, head), summed, 'q');
    });

    test('q_halt backward', async () => {
      const sizes = headsSizes(HALTING);
      const y = randomArray(sizes.y, 5);
      const head = randomArray(sizes.head, 6);
      const dQ = randomArray(HALTING.batch, 7);
      const dHead = randomArray(sizes.head, 8);
      const expected = qHaltBackwardReference(HALTING, y, head, dQ, dHead);

      const weight = await run('qHaltWeightGrad', HALTING, { y, dQ, dHead }, ['dHead']);
      expectClose(weight.dHead, expected.dHead, summed, 'dHead');
      expect(Array.from(weight.dHead.subarray(HALTING.hidden, HALTING.biasOffset)), 'elements between row 0 and the bias').toEqual(Array.from(dHead.subarray(HALTING.hidden, HALTING.biasOffset)));

      const input = await run('qHaltInputGrad', HALTING, { dQ, head, dY: nans(sizes.y) }, ['dY']);
      expectClose(input.dY, expected.dY, summed, 'dY');
    });

    test('argmax rows with ties and NaN', async () => {
      const rows = 6;
      const vocab = 5;
      const logits = randomArray(rows * vocab, 9);
      logits.set([1, 3, 3, 0, -1], 0);
      logits.set([-2, Number.NaN, 4, 4, 0], vocab);
      logits.set([-0, 0, -1, -1, -3], 2 * vocab);
      const outputOffset = 4;
      const predictions = new Int32Array(outputOffset + rows + 2).fill(-7);

      const output = await run('argmaxRows', { rows, vocab, outputOffset }, { logits, predictions }, ['predictions']);
      const expected = [-7, -7, -7, -7, ...argmaxRowsReference(rows, vocab, logits), -7, -7];
      expect(Array.from(output.predictions)).toEqual(expected);
      expect(Array.from(output.predictions.subarray(outputOffset, outputOffset + 3)), 'first maximum, NaN above all').toEqual([1, 1, 0]);
    });

    test('batch sum accumulates', async () => {
      const shape = { batch: 5, length: 37 };
      const x = randomArray(shape.batch * shape.length, 10);
      const out = randomArray(shape.length, 11);
      const result = await run('batchSum', shape, { x, out }, ['out']);
      expectClose(result.out, batchSumReference(shape, x, out), summed, 'out');
    });

    test('reset slots restarts halted slots only', async () => {
      const sizes = slotSizes(SLOTS);
      const state = {
        y: randomArray(sizes.carry, 12),
        z: randomArray(sizes.carry, 13),
        tokens: randomInts(sizes.tokens, 14, 5),
        labels: randomInts(sizes.tokens, 15, 5),
        puzzleIds: Int32Array.of(0, 1, 2),
        steps: Uint32Array.of(3, 2, 4),
      };
      const halted = Uint32Array.of(1, 0, 1);
      const hInit = randomArray(SLOTS.hidden, 16);
      const lInit = randomArray(SLOTS.hidden, 17);
      const incoming = randomInts(sizes.incoming, 18, 5);

      const outputs = await run('resetSlots', SLOTS, { ...state, halted, hInit, lInit, incoming }, ['y', 'z', 'tokens', 'labels', 'puzzleIds', 'steps']);
      const expected = { ...state, y: Float64Array.from(state.y), z: Float64Array.from(state.z), tokens: state.tokens.slice(), labels: state.labels.slice(), puzzleIds: state.puzzleIds.slice(), steps: state.steps.slice() };
      resetSlotsReference(SLOTS, expected, halted, hInit, lInit, incoming);
      for (const name of ['y', 'z', 'tokens', 'labels', 'puzzleIds', 'steps'] as const) {
        expect(Array.from(outputs[name]), name).toEqual(Array.from(expected[name]));
      }
    });

    test('fill carry', async () => {
      const { carry } = slotSizes(SLOTS);
      const hInit = randomArray(SLOTS.hidden, 19);
      const lInit = randomArray(SLOTS.hidden, 20);
      const outputs = await run('fillCarry', SLOTS, { y: nans(carry), z: nans(carry), hInit, lInit }, ['y', 'z']);
      expect(Array.from(outputs.y)).toEqual(Array.from({ length: carry }, (_, i) => hInit[i % SLOTS.hidden]));
      expect(Array.from(outputs.z)).toEqual(Array.from({ length: carry }, (_, i) => lInit[i % SLOTS.hidden]));
    });

    test('advance halting and the loss watch', async () => {
      const cases = [
        { steps: [0, 3, 1], qHalt: [-1, -1, 0.5], minSteps: [0, 0, 0], seqLoss: [1, 2, 3], bad: false },
        { steps: [1, 2, 3], qHalt: [0.5, 2, -0.5], minSteps: [4, 2, 0], seqLoss: [1, Number.NaN, 3], bad: true },
        { steps: [0, 1, 2], qHalt: [1, 1, 1], minSteps: [0, 0, 0], seqLoss: [1, Number.POSITIVE_INFINITY, 3], bad: true },
      ];
      for (const [index, { steps, qHalt, minSteps, seqLoss, bad }] of cases.entries()) {
        const inputs = {
          steps: Uint32Array.from(steps),
          halted: Uint32Array.of(7, 7, 7),
          qHalt: Float32Array.from(qHalt),
          minSteps: Uint32Array.from(minSteps),
          seqLoss: Float32Array.from(seqLoss),
          qHaltLoss: Float32Array.of(0.1, 0.2, 0.3),
          firstBadStep: Uint32Array.of(NO_BAD_STEP),
        };
        const outputs = await run('advanceHalting', SLOTS, inputs, ['steps', 'halted', 'firstBadStep'], 9);

        const expectedSteps = Uint32Array.from(steps);
        const expectedHalted = new Uint32Array(3);
        const nonFinite = advanceHaltingReference(SLOTS.maxSteps, expectedSteps, expectedHalted, qHalt, minSteps, [seqLoss]);
        expect(Array.from(outputs.steps), `case ${index}: steps`).toEqual(Array.from(expectedSteps));
        expect(Array.from(outputs.halted), `case ${index}: halted`).toEqual(Array.from(expectedHalted));
        expect(nonFinite, `case ${index}: reference watch`).toBe(bad);
        expect(outputs.firstBadStep[0], `case ${index}: firstBadStep`).toBe(bad ? 9 : NO_BAD_STEP);
      }
    });
  });
}
