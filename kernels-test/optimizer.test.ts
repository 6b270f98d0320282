import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { foldWorkgroups } from '../src/gpu/gpu.js';
import {
  adamReferenceStep,
  emaReferenceStep,
  learningRateAt,
  signSgdReferenceStep,
  TRM_ADAM_ATAN2,
  TRM_EMA_RATE,
  type AdamSettings,
  type SignSgdShape,
} from '../src/kernels/optimizer.js';
import { expectClose, randomArray } from './compare.js';
import { openRuntime, selectedRuntimes, type KernelRuntime } from './runtimes.js';

const ATAN2: AdamSettings = TRM_ADAM_ATAN2;
const ADAMW: AdamSettings = { rule: 'adamw', beta1: 0.9, beta2: 0.95, weightDecay: 0.1, eps: 1e-8 };

/**
 * Allowed parameter error per step, as a fraction of that step's lr. WGSL only promises atan2
 * within 4096 ULP, about 4.9e-4 of the angle, and |angle| ≤ π/2. The AdamW quotient is a few
 * ULP of a ratio of order 1.
 */
const STEP_TOLERANCE: Record<AdamSettings['rule'], number> = { atan2: 1e-3, adamw: 1e-5 };

// P straddles the vec4 tail (non-multiples of 4) and the 256-element workgroup (64 vec4s).
const COUNTS = [1, 3, 4, 5, 255, 256, 257, 4096 + 3];

interface ScheduledStep {
  step: number;
  lr: number;
}

/** Five steps of a warmup over 3 steps to 1e-2, so the lr changes between steps. */
const WARMUP_SCHEDULE: ScheduledStep[] = [1, 2, 3, 4, 5].map((step) => ({
  step,
  lr: learningRateAt(step, { baseLr: 1e-2, warmupSteps: 3, totalSteps: 5, minRatio: 1 }),
}));

interface AdamInputs {
  param: Float32Array;
  m: Float32Array;
  v: Float32Array;
  grads: Float32Array;
}

function adamInputs(count: number, steps: number, seed: number, gradScale = 1): AdamInputs {
  return {
    param: randomArray(count, seed),
    m: new Float32Array(count),
    v: new Float32Array(count),
    grads: randomArray(count * steps, seed + 1, gradScale),
  };
}

/** Runs the float64 reference over the schedule. */
function adamExpected(settings: AdamSettings, inputs: AdamInputs, schedule: ScheduledStep[]) {
  const count = inputs.param.length;
  const expected = { param: Float64Array.from(inputs.param), m: Float64Array.from(inputs.m), v: Float64Array.from(inputs.v) };
  for (const [index, { step, lr }] of schedule.entries()) {
    adamReferenceStep(settings, expected, inputs.grads.subarray(index * count, (index + 1) * count), step, lr);
  }
  return expected;
}

function expectAdam(settings: AdamSettings, outputs: Record<string, ArrayLike<number>>, inputs: AdamInputs, schedule: ScheduledStep[]): void {
  const count = inputs.param.length;
  const expected = adamExpected(settings, inputs, schedule);
  // The same recurrence over |m| and |g| sums the magnitudes of the terms that make up m.
  const mMagnitude = adamExpected(settings, { ...inputs, m: inputs.m.map(Math.abs), grads: inputs.grads.map(Math.abs) }, schedule).m;
  const steps = schedule.length;
  const lrSum = schedule.reduce((sum, { lr }) => sum + lr, 0);

  expectClose(outputs.m, expected.m, { abs: 0, rel: 4, reductionLength: steps, magnitude: mMagnitude }, 'm');
  expectClose(outputs.v, expected.v, { abs: 0, rel: 4, reductionLength: steps }, 'v');
  const paramMagnitude = expected.param.map((value) => Math.abs(value) + lrSum);
  const abs = lrSum * STEP_TOLERANCE[settings.rule];
  expectClose(outputs.param, expected.param, { abs, rel: 4, reductionLength: steps, magnitude: paramMagnitude }, `param (${count})`);
}

/** [start, length] windows: both ends of the buffer and across the fold into a second workgroup row. */
function foldWindows(count: number): [number, number][] {
  const [x, y] = foldWorkgroups(Math.ceil(Math.ceil(count / 4) / 64));
  expect(y, 'workgroup rows').toBeGreaterThan(1);
  const rowElements = x * 64 * 4;
  return [[0, 1024], [rowElements - 512, 1024], [count - 1024, 1024]];
}

function gather(pattern: Float32Array, windows: [number, number][]): Float64Array {
  const values: number[] = [];
  for (const [start, length] of windows) for (let i = start; i < start + length; i++) values.push(pattern[i % pattern.length]);
  return Float64Array.from(values);
}

describe('learning-rate schedule', () => {
  const schedule = { baseLr: 1e-4, warmupSteps: 2000, totalSteps: 65104, minRatio: 1 };

  test('warms up linearly from step 1 = lr / warmupSteps', () => {
    expect(learningRateAt(1, schedule)).toBeCloseTo(1e-4 / 2000, 15);
    expect(learningRateAt(1000, schedule)).toBeCloseTo(0.5e-4, 15);
    expect(learningRateAt(1999, schedule)).toBeCloseTo((1e-4 * 1999) / 2000, 15);
  });

  test('stays constant after warmup with minRatio 1', () => {
    for (const step of [2000, 2001, 30000, 65104]) expect(learningRateAt(step, schedule)).toBe(1e-4);
  });

  test('follows a half cosine toward lr · minRatio', () => {
    const cosine = { ...schedule, minRatio: 0.1 };
    expect(learningRateAt(2000, cosine)).toBeCloseTo(1e-4, 15);
    expect(learningRateAt(2000 + (65104 - 2000) / 2, cosine)).toBeCloseTo(1e-4 * 0.55, 15);
    expect(learningRateAt(65104, cosine)).toBeCloseTo(1e-5, 15);
  });
});

for (const runtimeName of selectedRuntimes()) {
  describe(`optimizers on ${runtimeName}`, () => {
    let runtime: KernelRuntime;

    beforeAll(async () => {
      runtime = await openRuntime(runtimeName);
    });

    afterAll(async () => {
      await runtime?.close();
    });

    const runAdam = (settings: AdamSettings, inputs: AdamInputs, schedule: ScheduledStep[]) =>
      runtime.run({ op: 'optimizer.adam', params: { settings, schedule }, inputs: { ...inputs } });

    for (const settings of [ATAN2, ADAMW]) {
      const rule = settings.rule;

      test.each(COUNTS)(`${rule}: 5 steps with changing gradients and lr, P = %i`, async (count) => {
        const inputs = adamInputs(count, WARMUP_SCHEDULE.length, count * 13);
        expectAdam(settings, await runAdam(settings, inputs, WARMUP_SCHEDULE), inputs, WARMUP_SCHEDULE);
      });

      test(`${rule}: resumes at step 1000 from nonzero moments`, async () => {
        const inputs = { ...adamInputs(259, 2, 5), m: randomArray(259, 6, 0.1), v: randomArray(259, 7, 0.01).map(Math.abs) };
        const schedule = [{ step: 1000, lr: 1e-2 }, { step: 1001, lr: 1e-2 }];
        expectAdam(settings, await runAdam(settings, inputs, schedule), inputs, schedule);
      });

      test(`${rule}: elements past P in the last vec4 are never written`, async () => {
        for (const count of [2, 5, 7]) {
          const inputs = { param: randomArray(8, 50), m: randomArray(8, 51, 0.1), v: randomArray(8, 52, 0.01).map(Math.abs), grads: randomArray(count * 2, 53) };
          const schedule = WARMUP_SCHEDULE.slice(0, 2);
          const outputs = await runtime.run({ op: 'optimizer.adam', params: { settings, schedule, count }, inputs: { ...inputs } });

          for (const key of ['param', 'm', 'v'] as const) {
            expect(Array.from(outputs[key].subarray(count)), `${key} past P = ${count}`).toEqual(Array.from(inputs[key].subarray(count)));
          }
          const head = (data: Float32Array) => data.subarray(0, count);
          const outputHeads = { param: head(outputs.param as Float32Array), m: head(outputs.m as Float32Array), v: head(outputs.v as Float32Array) };
          expectAdam(settings, outputHeads, { ...inputs, param: head(inputs.param), m: head(inputs.m), v: head(inputs.v) }, schedule);
        }
      });

      test(`${rule}: zero gradients only decay the parameters`, async () => {
        const inputs = { ...adamInputs(37, 3, 8), grads: new Float32Array(37 * 3) };
        const outputs = await runAdam(settings, inputs, WARMUP_SCHEDULE.slice(0, 3));

        expect(Array.from(outputs.m)).toEqual(new Array(37).fill(0));
        expect(Array.from(outputs.v)).toEqual(new Array(37).fill(0));
        expectAdam(settings, outputs, inputs, WARMUP_SCHEDULE.slice(0, 3));
      });
    }

    test('atan2: large gradients give steps bounded by lr · π/2', async () => {
      const count = 1031;
      const inputs = adamInputs(count, 1, 21, 1e15);
      const lr = 1e-2;
      const outputs = await runAdam(ATAN2, inputs, [{ step: 1, lr }]);

      expectAdam(ATAN2, outputs, inputs, [{ step: 1, lr }]);
      const decay = 1 - lr * ATAN2.weightDecay;
      for (let i = 0; i < count; i++) {
        const step = Math.abs(outputs.param[i] - inputs.param[i] * decay);
        expect(step, `|Δp|[${i}]`).toBeLessThanOrEqual(lr * (Math.PI / 2) * (1 + STEP_TOLERANCE.atan2) + 2 ** -23);
      }
    });

    test('atan2: P above 65535 · 256 folds the dispatch grid (one step, sampled)', async () => {
      const count = 65535 * 256 + 7;
      const windows = foldWindows(count);
      const patterns = {
        param: randomArray(4099, 31),
        grad: randomArray(4093, 32),
        m: randomArray(4091, 33, 0.1),
        v: randomArray(4087, 34, 0.01).map(Math.abs),
      };
      const step = { step: 7, lr: 1e-2 };
      const outputs = await runtime.run({ op: 'optimizer.adam.tiled', params: { settings: ATAN2, count, windows, ...step }, inputs: patterns });

      const sampled = {
        param: Float32Array.from(gather(patterns.param, windows)),
        m: Float32Array.from(gather(patterns.m, windows)),
        v: Float32Array.from(gather(patterns.v, windows)),
        grads: Float32Array.from(gather(patterns.grad, windows)),
      };
      expectAdam(ATAN2, outputs, sampled, [step]);
    });

    test.each([1, 3, 5, 257, 4096 + 3])('ema: 5 steps at rate 0.999 and 0.5, P = %i', async (count) => {
      for (const rate of [TRM_EMA_RATE, 0.5]) {
        const shadow = randomArray(count, count);
        const params = randomArray(count * 5, count + 1);
        const outputs = await runtime.run({ op: 'optimizer.ema', params: { rate }, inputs: { shadow, params } });

        const expected = Float64Array.from(shadow);
        const magnitude = Float64Array.from(shadow, Math.abs);
        for (let step = 0; step < 5; step++) {
          const param = params.subarray(step * count, (step + 1) * count);
          emaReferenceStep(expected, param, rate);
          emaReferenceStep(magnitude, param.map(Math.abs), rate);
        }
        expectClose(outputs.shadow, expected, { abs: 0, rel: 4, reductionLength: 5, magnitude }, `shadow at rate ${rate}`);
      }
    });

    test('ema: elements past P in the last vec4 are never written', async () => {
      const shadow = randomArray(8, 60);
      const outputs = await runtime.run({ op: 'optimizer.ema', params: { rate: 0.5, count: 5 }, inputs: { shadow, params: randomArray(5, 61) } });
      expect(Array.from(outputs.shadow.subarray(5))).toEqual(Array.from(shadow.subarray(5)));
      expect(Array.from(outputs.shadow.subarray(0, 5))).not.toEqual(Array.from(shadow.subarray(0, 5)));
    });

    describe('sparse SignSGD', () => {
      interface SignSgdCase {
        name: string;
        shape: SignSgdShape;
        ids: number[][];
      }

      const CASES: SignSgdCase[] = [
        { name: 'repeated ids in one batch', shape: { batch: 5, hidden: 3, rows: 7 }, ids: [[2, 0, 2, 2, 5], [5, 5, 1, 0, 5], [6, 6, 6, 6, 6]] },
        { name: 'one id for the whole batch (Sudoku, Maze)', shape: { batch: 16, hidden: 512, rows: 1 }, ids: [new Array(16).fill(0), new Array(16).fill(0)] },
        { name: 'many ids, hidden 65', shape: { batch: 70, hidden: 65, rows: 200 }, ids: [0, 1].map((seed) => Array.from(randomArray(70, seed), (r) => Math.floor(((r + 1) / 2) * 150))) },
      ];

      const runSignSgd = (shape: SignSgdShape, table: Float32Array, grads: Float32Array, ids: Int32Array, lrs: number[], checkIds = true) =>
        runtime.run({ op: 'optimizer.signSgd', params: { shape, weightDecay: 0.1, lrs, checkIds }, inputs: { table, grads, ids } });

      function signSgdExpected(shape: SignSgdShape, table: Float32Array, grads: Float32Array, ids: Int32Array, lrs: number[]) {
        const expected = Float64Array.from(table);
        const size = shape.batch * shape.hidden;
        for (const [step, lr] of lrs.entries()) {
          signSgdReferenceStep(shape, expected, grads.subarray(step * size, (step + 1) * size), ids.subarray(step * shape.batch, (step + 1) * shape.batch), lr, 0.1);
        }
        return expected;
      }

      test.each(CASES)('$name', async ({ shape, ids }) => {
        const table = randomArray(shape.rows * shape.hidden, shape.rows);
        const grads = randomArray(ids.length * shape.batch * shape.hidden, shape.batch);
        const flatIds = Int32Array.from(ids.flat());
        const lrs = [1e-2, 3e-2, 5e-3].slice(0, ids.length);
        const outputs = await runSignSgd(shape, table, grads, flatIds, lrs);

        const expected = signSgdExpected(shape, table, grads, flatIds, lrs);
        const magnitude = expected.map((value) => Math.abs(value) + 0.05);
        expectClose(outputs.table, expected, { abs: 0, rel: 4, reductionLength: ids.length, magnitude }, 'table');

        const touched = new Set(ids.flat());
        for (let row = 0; row < shape.rows; row++) {
          if (touched.has(row)) continue;
          const slice = (data: ArrayLike<number>) => Array.from(data).slice(row * shape.hidden, (row + 1) * shape.hidden);
          expect(slice(outputs.table), `untouched row ${row}`).toEqual(slice(table));
        }
      });

      test('zero gradient sum only decays the row', async () => {
        const shape = { batch: 2, hidden: 4, rows: 2 };
        const table = Float32Array.from([1, -2, 3, -4, 5, 6, 7, 8]);
        const grads = Float32Array.from([0.5, -0.25, 0, 3, -0.5, 0.25, 0, -3]);
        const outputs = await runSignSgd(shape, table, grads, Int32Array.from([1, 1]), [1e-2]);

        expect(Array.from(outputs.table)).toEqual(Array.from(table.map((value, i) => (i < 4 ? value : Math.fround(value * Math.fround(1 - 1e-3))))));
      });

      test('out-of-range ids in host data are rejected', async () => {
        const shape = { batch: 2, hidden: 4, rows: 3 };
        const run = runSignSgd(shape, new Float32Array(12), new Float32Array(8), Int32Array.from([0, 3]), [1e-2]);
        await expect(run).rejects.toThrow(/optimizer\.signSgd: ids\[1\] is 3, but ids must be integers in \[0, 3\)/);
      });

      test('out-of-range ids on the GPU update nothing', async () => {
        const shape = { batch: 4, hidden: 5, rows: 3 };
        const table = randomArray(15, 41);
        const grads = randomArray(20, 42);
        const outputs = await runSignSgd(shape, table, grads, Int32Array.from([-1, 2, 3, 2 ** 31 - 1]), [1e-2], false);

        const expected = signSgdExpected({ ...shape, batch: 1 }, table, grads.subarray(5, 10), Int32Array.from([2]), [1e-2]);
        expectClose(outputs.table, expected, { abs: 0, rel: 4, reductionLength: 1, magnitude: expected.map((value) => Math.abs(value) + 0.05) }, 'table');
        expect(Array.from(outputs.table.subarray(0, 10))).toEqual(Array.from(table.subarray(0, 10)));
      });
    });
  });
}
