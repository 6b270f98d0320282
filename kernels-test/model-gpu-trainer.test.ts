// The GPU trainer's host-side API in Node: input checks, the non-finite loss error, metrics,
// state export and import, gradients, and disposal. Numerical parity with the float64
// reference is in model-gpu.test.ts.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createGpu } from '../src/gpu/device.js';
import type { Gpu } from '../src/gpu/gpu.js';
import { setMatmulTuning } from '../src/kernels/matmul-tuning.js';
import { trmConfig } from '../src/model/config.js';
import { TrmTrainer } from '../src/model/gpu/trainer.js';
import type { TrainingBatch } from '../src/model/gpu/inputs.js';
import { initializeParameters, Rng } from '../src/model/init.js';
import { LM_HEAD, Q_HEAD_BIAS, Q_HEAD_WEIGHT, tensorSlot } from '../src/model/parameters.js';

setMatmulTuning(false);

const config = trmConfig('test-tiny');

function randomBatch(rng: Rng, batch = config.batch): TrainingBatch {
  const { seqLen, vocab, numPuzzleIds } = config;
  return {
    inputs: Int32Array.from({ length: batch * seqLen }, () => rng.integer(0, vocab)),
    labels: Int32Array.from({ length: batch * seqLen }, () => rng.integer(0, vocab)),
    puzzleIds: Int32Array.from({ length: batch }, () => rng.integer(0, numPuzzleIds)),
  };
}

describe('GPU trainer', () => {
  let gpu: Gpu;
  let trainer: TrmTrainer;
  const rng = new Rng(5);

  beforeAll(async () => {
    gpu = await createGpu();
    trainer = await TrmTrainer.create(gpu, config, { seed: 3 });
  });

  afterAll(() => {
    trainer?.dispose();
    gpu?.destroy();
  });

  test('rejects bad training batches', async () => {
    const good = randomBatch(rng);
    const cases: [string, TrainingBatch, RegExp][] = [
      ['batch size', randomBatch(rng, 2), /the batch has 2 samples \(puzzleIds\.length\), expected 3/],
      ['sequence length', { ...good, inputs: new Int32Array(3 * 5) }, /inputs has 15 entries, i\.e\. sequences of 5 tokens, but 3 samples of seqLen 4 need 12/],
      ['label length', { ...good, labels: new Int32Array(7) }, /labels has 7 entries but 3 samples of seqLen 4 need 12/],
      ['token id', { ...good, inputs: good.inputs.map((token, i) => (i === 5 ? config.vocab : token)) }, /inputs\[5\] is 5, expected a token id in \[0, 5\)/],
      ['negative token id', { ...good, inputs: good.inputs.map((token, i) => (i === 0 ? -1 : token)) }, /inputs\[0\] is -1/],
      ['label', { ...good, labels: good.labels.map((label, i) => (i === 2 ? -7 : label)) }, /labels\[2\] is -7, expected -100 or a token id in \[0, 5\)/],
      ['puzzle id', { ...good, puzzleIds: Int32Array.of(0, 3, 1) }, /puzzleIds\[1\] is 3, expected a puzzle id in \[0, 3\)/],
      ['array type', { ...good, inputs: Array.from(good.inputs) as unknown as Int32Array }, /inputs must be an Int32Array, got Array/],
    ];
    for (const [name, batch, message] of cases) {
      await expect(trainer.trainStep(batch), name).rejects.toThrow(message);
    }
    expect(trainer.step, 'steps taken').toBe(0);
  });

  test('rejects bad evaluation batches', async () => {
    await expect(trainer.evaluate({ inputs: new Int32Array(0), puzzleIds: new Int32Array(0) })).rejects.toThrow(/the batch is empty/);
    await expect(trainer.evaluate({ inputs: Int32Array.of(0, 1, 2, 9), puzzleIds: Int32Array.of(0) })).rejects.toThrow(/inputs\[3\] is 9/);
  });

  test('readMetrics before any step', async () => {
    await expect(trainer.readMetrics()).rejects.toThrow(/no training step has run yet/);
  });

  test('metrics of a step', async () => {
    await trainer.trainStep(randomBatch(rng));
    const metrics = await trainer.readMetrics();

    expect(metrics.step).toBe(1);
    expect(metrics.lr).toBeCloseTo(config.lr / config.warmupSteps, 12);
    expect(metrics.loss).toBeCloseTo((metrics.lmLoss + 0.5 * metrics.qHaltLoss) / config.batch, 6);
    expect(metrics.lmLoss).toBeGreaterThan(0);
    expect(metrics.tokenAccuracy).toBeGreaterThanOrEqual(0);
    expect(metrics.tokenAccuracy).toBeLessThanOrEqual(1);
    // q_head starts at bias −5, so no slot halts before the last supervision step.
    expect(Array.from(metrics.slots.qHalt).every((q) => Math.abs(q + 5) < 1e-6)).toBe(true);
    expect(Array.from(metrics.slots.steps)).toEqual([1, 1, 1]);
    expect(metrics.haltedCount).toBe(0);
    expect(metrics.meanHaltSteps).toBeNaN();
  });

  test('rejects a call while a step records', async () => {
    const first = trainer.trainStep(randomBatch(rng));
    await expect(trainer.trainStep(randomBatch(rng))).rejects.toThrow(/trainStep: trainStep\(\) has not finished; await each call before the next/);
    await expect(trainer.readMetrics()).rejects.toThrow(/readMetrics: trainStep\(\) has not finished/);
    await first;
    expect(trainer.step).toBe(2);
  });

  test('gradients of the last step', async () => {
    const { grads, dPuzzleEmb } = await trainer.readGradients();
    const layout = trainer.layout;
    expect(grads.length).toBe(layout.length);
    expect(dPuzzleEmb.length).toBe(config.batch * config.hidden);

    const lmHead = tensorSlot(layout, LM_HEAD);
    expect(grads.subarray(lmHead.offset, lmHead.offset + lmHead.size).some((g) => g !== 0), 'lm_head gradient').toBe(true);
    const qWeight = tensorSlot(layout, Q_HEAD_WEIGHT);
    expect(grads.subarray(qWeight.offset + config.hidden, qWeight.offset + 2 * config.hidden).every((g) => g === 0), 'q_continue weight gradient').toBe(true);
    expect(grads[tensorSlot(layout, Q_HEAD_BIAS).offset + 1], 'q_continue bias gradient').toBe(0);
  });

  test('state export and load round trip', async () => {
    await trainer.trainStep(randomBatch(rng));
    const state = await trainer.exportState();
    expect(state.step).toBe(3);
    expect(state.tensors.get(LM_HEAD)?.length).toBe(config.vocab * config.hidden);
    expect(state.tensors.get('H_init')).toEqual(state.params.hInit);

    const copy = await TrmTrainer.create(gpu, config, { seed: 99 });
    try {
      await copy.loadState(state);
      const loaded = await copy.exportState();
      expect(loaded.step).toBe(3);
      expect(loaded.params.dense).toEqual(state.params.dense);
      expect(loaded.params.puzzleEmb).toEqual(state.params.puzzleEmb);
      expect(loaded.params.hInit).toEqual(state.params.hInit);
      expect(loaded.ema).toEqual(state.ema);
      expect(loaded.adamM).toEqual(state.adamM);
      expect(loaded.adamV).toEqual(state.adamV);
      expect(loaded.slots).toEqual(state.slots);
      expect(loaded.explorationRng).toEqual(state.explorationRng);

      // The copy continues every slot's puzzle and the exploration draws exactly as the original does.
      const batch = randomBatch(rng);
      await trainer.trainStep(batch);
      await copy.trainStep(batch);
      const original = await trainer.readMetrics();
      const continued = await copy.readMetrics();
      expect(continued.loss).toBe(original.loss);
      expect(continued.slots.steps).toEqual(original.slots.steps);
      expect((await copy.exportState()).params.dense).toEqual((await trainer.exportState()).params.dense);
    } finally {
      copy.dispose();
    }
  });

  test('loadState rejects a state of another config', async () => {
    const other = initializeParameters(trmConfig('test-tiny', { hidden: 16 }), 1);
    await expect(trainer.loadState({ params: other })).rejects.toThrow(/params\.dense has \d+ values, expected \d+ for this config/);
  });

  test('NaN in a weight makes readMetrics throw', async () => {
    const nanTrainer = await TrmTrainer.create(gpu, config, { seed: 4 });
    try {
      const state = await nanTrainer.exportState();
      state.params.dense[tensorSlot(nanTrainer.layout, LM_HEAD).offset + 3] = Number.NaN;
      await nanTrainer.loadState(state);

      await nanTrainer.trainStep(randomBatch(rng));
      await expect(nanTrainer.readMetrics()).rejects.toThrow(/training loss is not finite \(NaN or infinite\) at step 1; metrics were read after step 1/);
      await nanTrainer.trainStep(randomBatch(rng));
      await expect(nanTrainer.readMetrics(), 'the first bad step is kept').rejects.toThrow(/at step 1; metrics were read after step 2/);
    } finally {
      nanTrainer.dispose();
    }
  });

  test('dispose frees every buffer', async () => {
    const before = gpu.allocatedBytes;
    const local = await TrmTrainer.create(gpu, trmConfig('test-tiny', { variant: 'att' }), { seed: 6 });
    await local.trainStep(randomBatch(rng));
    await local.evaluate({ inputs: randomBatch(rng, 2).inputs, puzzleIds: Int32Array.of(0, 1) });
    await local.readMetrics();
    local.dispose();
    expect(gpu.allocatedBytes).toBe(before);
    await expect(local.trainStep(randomBatch(rng))).rejects.toThrow(/the trainer has been disposed/);
  });
});
