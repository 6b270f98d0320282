import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { add3Reference, addReference, axpyReference, scaleReference, sumReference } from '../src/kernels/elementwise.js';
import { clobberedGuards } from '../src/testing/ops/mlp.js';
import { F32_EPS, expectClose, randomArray } from './compare.js';
import { openRuntime, selectedRuntimes, type KernelRuntime } from './runtimes.js';

// Lengths below, at and above a vec4 and the 64-invocation workgroup (256 elements in vec4s),
// with tails of 0 to 3 elements.
const LENGTHS = [1, 2, 3, 4, 5, 7, 8, 63, 64, 65, 255, 256, 257, 1001, 4099];

const ALPHA = -0.375;
const FILL_VALUE = -2.5;

/** Sum of |values| element by element. */
function absoluteSum(...arrays: ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(arrays[0].length);
  for (const values of arrays) for (let i = 0; i < out.length; i++) out[i] += Math.abs(values[i]);
  return out;
}

interface ElementwiseCase {
  op: string;
  inputNames: string[];
  expected(inputs: Record<string, Float32Array>): Float64Array;
  /** Roundings per element, and the sum of |terms| they are relative to. */
  roundings: number;
  magnitude(inputs: Record<string, Float32Array>): Float64Array;
}

const CASES: ElementwiseCase[] = [
  {
    op: 'add',
    inputNames: ['a', 'b'],
    expected: ({ a, b }) => addReference(a, b),
    roundings: 1,
    magnitude: ({ a, b }) => absoluteSum(a, b),
  },
  {
    op: 'add3',
    inputNames: ['x', 'y', 'z'],
    expected: ({ x, y, z }) => add3Reference(x, y, z),
    roundings: 2,
    magnitude: ({ x, y, z }) => absoluteSum(x, y, z),
  },
  {
    op: 'scale',
    inputNames: ['a'],
    expected: ({ a }) => scaleReference(ALPHA, a),
    roundings: 1,
    magnitude: ({ a }) => scaleReference(Math.abs(ALPHA), absoluteSum(a)),
  },
  {
    op: 'axpy',
    inputNames: ['a', 'out'],
    expected: ({ a, out }) => axpyReference(ALPHA, a, out),
    roundings: 2,
    magnitude: ({ a, out }) => axpyReference(Math.abs(ALPHA), absoluteSum(a), absoluteSum(out)),
  },
];

function randomInputs(names: string[], length: number, seed: number): Record<string, Float32Array> {
  return Object.fromEntries(names.map((name, index) => [name, randomArray(length, seed + 101 * index, 4)]));
}

/** NaN, ±Infinity and −0 in the vec4 part and the tail of an 11-element vector. */
function specialInputs(names: string[]): Record<string, Float32Array> {
  const inputs = randomInputs(names, 11, 7);
  const specials = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0];
  names.forEach((name, index) => {
    inputs[name][index % 4] = specials[index % 4];
    inputs[name][8 + (index % 3)] = specials[(index + 1) % 4];
  });
  return inputs;
}

for (const runtimeName of selectedRuntimes()) {
  describe(`elementwise on ${runtimeName}`, () => {
    let runtime: KernelRuntime;

    beforeAll(async () => {
      runtime = await openRuntime(runtimeName);
    });

    afterAll(async () => {
      await runtime?.close();
    });

    async function run(op: string, params: Record<string, unknown>, inputs: Record<string, Float32Array>) {
      const outputs = await runtime.run({ op: `elementwise.${op}`, params, inputs });
      const name = op === 'sum' ? 'sum' : 'out';
      expect(clobberedGuards(outputs[`${name}Guard`]), `${op} guard`).toEqual([]);
      return outputs[name] as Float32Array;
    }

    for (const { op, inputNames, expected, roundings, magnitude } of CASES) {
      test.each(LENGTHS)(`${op} length %i`, async (length) => {
        const inputs = randomInputs(inputNames, length, length);
        const out = await run(op, { length, alpha: ALPHA }, inputs);
        expectClose(out, expected(inputs), { abs: 0, rel: roundings, reductionLength: 1, magnitude: magnitude(inputs) }, op);
      });

      test(`${op} special values`, async () => {
        const inputs = specialInputs(inputNames);
        const out = await run(op, { length: 11, alpha: ALPHA }, inputs);
        expectClose(out, expected(inputs), { abs: 0, rel: roundings, reductionLength: 1, magnitude: magnitude(inputs) }, op);
      });
    }

    test.each(LENGTHS)('fill length %i', async (length) => {
      const out = await run('fill', { length, value: FILL_VALUE }, {});
      expect(out.every((value) => value === FILL_VALUE)).toBe(true);
    });

    test.each(LENGTHS)('copy length %i', async (length) => {
      const a = randomArray(length, length);
      const out = await run('copy', { length }, { a });
      expect(Array.from(out)).toEqual(Array.from(a));
    });

    test('copy keeps NaN and -0', async () => {
      const a = specialInputs(['a']).a;
      const out = await run('copy', { length: 11 }, { a });
      expect(Array.from(out)).toEqual(Array.from(a));
    });

    test('fill beyond 65535 workgroups', async () => {
      // 2²⁴ elements in vec4s are 65536 workgroups of 64, so the dispatch folds into
      // [32769, 2, 1]; the 5 extra elements give one more vec4 workgroup and a scalar tail.
      const length = 65536 * 64 * 4 + 5;
      const out = await run('fill', { length, value: FILL_VALUE }, {});
      const wrong = out.findIndex((value) => value !== FILL_VALUE);
      expect(wrong, `first element not filled: ${wrong} (${out[wrong]})`).toBe(-1);
    });

    test('add names the short operand', async () => {
      const run = runtime.run({ op: 'elementwise.add', params: { length: 20 }, inputs: { a: new Float32Array(20), b: new Float32Array(16) } });
      await expect(run).rejects.toThrow(/add 'elementwise.add': operand b needs 20 32-bit values/);
    });

    // Lengths around one block (1024), one pass of blocks (2²⁰) and a million.
    const SUM_LENGTHS = [1, 5, 255, 1023, 1024, 1025, 12295, 1_000_000, 1_048_576, 1_048_577];

    /** Bound for a tree of depth ⌈log2 n⌉: one rounding per level, relative to Σ|x|. */
    function sumTolerance(x: Float32Array): number {
      const depth = Math.ceil(Math.log2(x.length)) + 1;
      return depth * F32_EPS * absoluteSum(x).reduce((total, value) => total + value, 0);
    }

    test.each(SUM_LENGTHS)('sum length %i', async (length) => {
      const x = randomArray(length, length + 3);
      const [sum] = await run('sum', { length }, { x });
      expect(Math.abs(sum - sumReference(x))).toBeLessThanOrEqual(sumTolerance(x));
    });

    test('sum of 10⁶ equal values', async () => {
      // Adding 0.1 a million times one by one in f32 is off by about 1%.
      const x = new Float32Array(1_000_000).fill(0.1);
      const [sum] = await run('sum', { length: x.length }, { x });
      expect(Math.abs(sum - sumReference(x))).toBeLessThanOrEqual(sumTolerance(x));
    });

    test('sum is reproducible', async () => {
      const x = randomArray(1_000_000, 5, 100);
      const [first] = await run('sum', { length: x.length }, { x });
      const [second] = await run('sum', { length: x.length }, { x });
      expect(Object.is(first, second), `${first} and ${second}`).toBe(true);
    });

    test('sum propagates NaN', async () => {
      const x = randomArray(5000, 9);
      x[4097] = Number.NaN;
      const [sum] = await run('sum', { length: x.length }, { x });
      expect(sum).toBeNaN();
    });
  });
}
