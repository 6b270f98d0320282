// The GPU model against the float64 reference on test-tiny: one supervision step's outputs and
// every gradient, a 20-step training run, evaluation, and device memory across steps. Each case
// runs through the op runner, so it covers Node and Chromium alike.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { trmConfig, type TrmConfig } from '../src/model/config.js';
import { fillTruncatedNormal, initializeParameters, Rng } from '../src/model/init.js';
import { argmaxRowsReference } from '../src/kernels/heads.js';
import { denseLayout, Q_HEAD_BIAS, Q_HEAD_WEIGHT, tensorSlot, tensorView } from '../src/model/parameters.js';
import {
  createReferenceContext,
  createTrainState,
  evaluate,
  IGNORE_LABEL,
  lossAndGradients,
  toReferenceParameters,
  trainStep,
  type TrainingBatch,
  type TrainStepResult,
} from '../src/model/reference.js';
import { setMatmulTuning } from '../src/kernels/matmul-tuning.js';
import { expectClose } from './compare.js';
import { openRuntime, selectedRuntimes, type KernelRuntime } from './runtimes.js';

setMatmulTuning(false);

function randomBatch(config: TrmConfig, rng: Rng, batch = config.batch): TrainingBatch {
  const { seqLen, vocab, numPuzzleIds } = config;
  return {
    inputs: Int32Array.from({ length: batch * seqLen }, () => rng.integer(0, vocab)),
    labels: Int32Array.from({ length: batch * seqLen }, () => rng.integer(0, vocab)),
    puzzleIds: Int32Array.from({ length: batch }, () => rng.integer(0, numPuzzleIds)),
  };
}

/** Labels equal to the inputs: a task the model learns in a few steps, so slots start to halt early. */
function copyTask(config: TrmConfig, rng: Rng, batch = config.batch): TrainingBatch {
  const data = randomBatch(config, rng, batch);
  return { ...data, labels: data.inputs.slice() };
}

function concatenate(arrays: Int32Array[]): Int32Array {
  const out = new Int32Array(arrays.reduce((total, array) => total + array.length, 0));
  arrays.reduce((offset, array) => (out.set(array, offset), offset + array.length), 0);
  return out;
}

function randomFloat32(length: number, rng: Rng, std: number): Float32Array {
  const out = new Float32Array(length);
  fillTruncatedNormal(out, std, rng);
  return out;
}

/**
 * float32 parameters with a non-zero q_head and puzzle table (their initial values give no
 * halting gradient to speak of), a random carry, and labels with ignored tokens.
 */
function gradientCase(config: TrmConfig, seed: number) {
  const layout = denseLayout(config);
  const rng = new Rng(seed);
  const params = initializeParameters(config, seed);
  tensorView(layout, params.dense, Q_HEAD_WEIGHT).set(randomFloat32(2 * config.hidden, rng, 0.3));
  tensorView(layout, params.dense, Q_HEAD_BIAS).set([0.2, -0.1]);
  params.puzzleEmb.set(randomFloat32(params.puzzleEmb.length, rng, 0.5));

  const positions = config.batch * (config.puzzleEmbSlots + config.seqLen) * config.hidden;
  const carry = { y: randomFloat32(positions, rng, 1), z: randomFloat32(positions, rng, 1) };
  const batch = randomBatch(config, rng);
  batch.puzzleIds.set([0, 2, 0]);
  batch.labels[1] = IGNORE_LABEL;
  batch.labels[config.seqLen + 2] = IGNORE_LABEL;
  return { params, carry, batch };
}

/** Trains `steps` steps on the GPU and 20 on the float64 reference, from equal states and batches. */
async function trainingRun(runtime: KernelRuntime, config: TrmConfig, steps = 20) {
  const rng = new Rng(31);
  const batches = Array.from({ length: steps }, () => copyTask(config, rng));
  const evalBatch = copyTask(config, rng, 5);

  // A random q_head row with bias 0 gives q_halt of both signs, so slots halt at different steps.
  const params = initializeParameters(config, 7);
  const layout = denseLayout(config);
  tensorView(layout, params.dense, Q_HEAD_WEIGHT).set(randomFloat32(2 * config.hidden, rng, 0.3));
  tensorView(layout, params.dense, Q_HEAD_BIAS).set([0, 0]);

  const context = createReferenceContext(config);
  const state = createTrainState(context, toReferenceParameters(params), EXPLORATION_SEED);
  const reference = batches.slice(0, 20).map((batch) => trainStep(context, state, batch));

  const gpu = await runtime.run({
    op: 'model.train',
    params: { config, explorationSeed: EXPLORATION_SEED, steps, matmulTuning: false },
    inputs: {
      ...params,
      inputs: concatenate(batches.map((batch) => batch.inputs)),
      labels: concatenate(batches.map((batch) => batch.labels)),
      puzzleIds: concatenate(batches.map((batch) => batch.puzzleIds)),
      evalInputs: evalBatch.inputs,
      evalPuzzleIds: evalBatch.puzzleIds,
    },
  });
  return { gpu, reference, params, evalBatch };
}

const EXPLORATION_SEED = 8;

/** Checks each of the 20 steps: loss within 1e-4 relative, and identical halting and step counts. */
function expectRunMatches(config: TrmConfig, gpu: Record<string, ArrayLike<number>>, reference: TrainStepResult[]): void {
  const batch = config.batch;
  for (let s = 0; s < 20; s++) {
    const slots = (array: ArrayLike<number>) => Array.from(array).slice(s * batch, (s + 1) * batch);
    expect(Math.abs(gpu.loss[s] - reference[s].loss), `step ${s + 1} loss: GPU ${gpu.loss[s]}, float64 ${reference[s].loss}`).toBeLessThan(1e-4 * reference[s].loss);
    expect(slots(gpu.halted), `step ${s + 1} halted`).toEqual(Array.from(reference[s].halted));
    expect(slots(gpu.slotSteps), `step ${s + 1} steps`).toEqual(Array.from(reference[s].steps));
  }
}

/** max |actual − expected| / max |expected| over a tensor. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let error = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    error = Math.max(error, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return scale === 0 ? error : error / scale;
}

function maxAbs(values: ArrayLike<number>): number {
  return Array.from(values).reduce((max, value) => Math.max(max, Math.abs(value)), 0);
}

function sum(values: ArrayLike<number>): number {
  return Array.from(values).reduce((total, value) => total + value, 0);
}

const GRADIENT_CASES: { name: string; overrides: Partial<TrmConfig> }[] = [
  { name: 'mlp, stablemax', overrides: { variant: 'mlp' } },
  { name: 'att, stablemax', overrides: { variant: 'att' } },
  { name: 'mlp, softmax', overrides: { variant: 'mlp', lossType: 'softmax' } },
];

/** Largest relative error of a gradient tensor against float64 that the tests accept. */
const GRADIENT_TOLERANCE = 1e-4;

for (const runtimeName of selectedRuntimes()) {
  describe(`GPU model on ${runtimeName}`, () => {
    let runtime: KernelRuntime;
    const worst = { error: 0, where: '' };

    beforeAll(async () => {
      runtime = await openRuntime(runtimeName);
    });

    afterAll(async () => {
      await runtime?.close();
    });

    for (const { name, overrides } of GRADIENT_CASES) {
      test(`supervision step matches float64 (${name})`, async () => {
        const config = trmConfig('test-tiny', overrides);
        const { params, carry, batch } = gradientCase(config, 11);
        const context = createReferenceContext(config);
        const reference = lossAndGradients(context, toReferenceParameters(params), { y: Float64Array.from(carry.y), z: Float64Array.from(carry.z) }, batch);

        const gpu = await runtime.run({
          op: 'model.supervisionStep',
          params: { config, matmulTuning: false },
          inputs: { ...params, ...carry, tokens: batch.inputs, labels: batch.labels, puzzleIds: batch.puzzleIds },
        });

        const forward = { abs: 1e-5, rel: 2000, reductionLength: 1 };
        expectClose(gpu.logits, reference.step.logits, forward, 'logits');
        expectClose(gpu.qHalt, reference.step.qHalt, forward, 'qHalt');
        expectClose(gpu.y, reference.step.carry.y, forward, 'carry y');
        expectClose(gpu.z, reference.step.carry.z, forward, 'carry z');
        expect(Math.abs(sum(gpu.seqLoss) - reference.loss.lmLoss), 'lmLoss').toBeLessThan(1e-5 * reference.loss.lmLoss);
        expect(Math.abs(sum(gpu.qHaltLoss) - reference.loss.qHaltLoss), 'qHaltLoss').toBeLessThan(1e-5 * reference.loss.qHaltLoss);
        expect(Array.from(gpu.exact), 'exact').toEqual(Array.from(reference.loss.seqCorrect));

        for (const slot of context.layout.tensors) {
          const actual = gpu.grads.subarray(slot.offset, slot.offset + slot.size);
          const expected = reference.grads.subarray(slot.offset, slot.offset + slot.size);
          const error = relativeError(actual, expected);
          expect(maxAbs(expected), `${slot.name}: reference gradient is not zero`).toBeGreaterThan(1e-8);
          if (error > worst.error) Object.assign(worst, { error, where: `${name} ${slot.name}` });
          expect(error, `${slot.name}: relative error`).toBeLessThan(GRADIENT_TOLERANCE);
        }
        const puzzleError = relativeError(gpu.dPuzzleEmb, reference.dPuzzleEmb);
        if (puzzleError > worst.error) Object.assign(worst, { error: puzzleError, where: `${name} dPuzzleEmb` });
        expect(puzzleError, 'dPuzzleEmb: relative error').toBeLessThan(GRADIENT_TOLERANCE);

        // q_continue has no loss, so row 1 of q_head and bias[1] get exactly zero.
        const qWeight = tensorSlot(context.layout, Q_HEAD_WEIGHT);
        const qBias = tensorSlot(context.layout, Q_HEAD_BIAS);
        expect(gpu.grads.subarray(qWeight.offset + config.hidden, qWeight.offset + 2 * config.hidden).every((g) => g === 0), 'q_continue weight grad').toBe(true);
        expect(gpu.grads[qBias.offset + 1], 'q_continue bias grad').toBe(0);
        expect(gpu.leakedBytes[0], 'bytes left after dispose').toBe(0);
      });
    }

    // lr 1e-4, the rate of the published training recipes. AdamATan2 early in training and SignSGD are sign-like updates,
    // which amplify float32 rounding: at test-tiny's lr 1e-2 the two runs' losses part by a
    // percent within ten steps, at 1e-4 they agree to about 1e-5 over 20 steps.
    test('training run matches float64', async () => {
      const config = trmConfig('test-tiny', { lr: 1e-4, puzzleEmbLr: 1e-4 });
      const { gpu, reference } = await trainingRun(runtime, config);
      expectRunMatches(config, gpu, reference);
      const haltedEarly = reference.some((result) => result.halted.some((halted, b) => halted === 1 && result.steps[b] < config.maxSupervisionSteps));
      expect(haltedEarly, 'some slot halts before the last supervision step').toBe(true);
      console.log(`${runtimeName}: 20-step losses, GPU vs float64:\n${reference.slice(0, 20).map((r, s) => `${s + 1} ${gpu.loss[s].toFixed(7)} ${r.loss.toFixed(7)}`).join('\n')}`);
    });

    test('device memory stays flat over 50 steps', async () => {
      const { gpu } = await trainingRun(runtime, trmConfig('test-tiny'), 50);
      expect(gpu.bytes[49], 'bytes after step 50').toBe(gpu.bytes[0]);
      expect(gpu.leakedBytes[0], 'bytes left after dispose').toBe(0);
    });

    // The att variant: at test-tiny's sizes the mlp variant's recursion is chaotic, so that a
    // relative change of 1e-7 in its float64 weights moves the logits by about 1e-3 after four
    // supervision steps and by 1 after eight.
    test('evaluation matches float64', async () => {
      const config = trmConfig('test-tiny', { variant: 'att', lr: 1e-4, puzzleEmbLr: 1e-4 });
      const { gpu, reference, params, evalBatch } = await trainingRun(runtime, config);
      expectRunMatches(config, gpu, reference);
      const context = createReferenceContext(config);

      // The GPU's own EMA weights, so that this checks evaluation and not training.
      const emaParams = { ...toReferenceParameters(params), dense: Float64Array.from(gpu.ema), puzzleEmb: Float64Array.from(gpu.puzzleEmb) };
      const expected = evaluate(context, emaParams, evalBatch);
      const steps = config.maxSupervisionSteps;
      const rows = evalBatch.puzzleIds.length * config.seqLen;

      const forward = { abs: 1e-5, rel: 4000, reductionLength: 1 };
      expectClose(gpu.evalLogits, expected.logits, forward, 'final logits');
      expectClose(gpu.evalQHalt, expected.qHalt, forward, 'q_halt per step');
      expect(gpu.evalTokens.length, 'predictions of every step').toBe(steps * rows);
      expect(Array.from(gpu.evalTokens.subarray((steps - 1) * rows)), 'final predictions').toEqual(Array.from(argmaxRowsReference(rows, config.vocab, gpu.evalLogits)));
    });

    test('largest gradient error is reported', () => {
      console.log(`${runtimeName}: largest relative gradient error against float64: ${worst.error.toExponential(2)} (${worst.where})`);
      expect(worst.error).toBeLessThan(GRADIENT_TOLERANCE);
    });
  });
}
