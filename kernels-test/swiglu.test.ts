import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { swigluBackwardReference, swigluForwardReference, swigluSizes, swigluView, type SwigluShape } from '../src/kernels/swiglu.js';
import { clobberedGuards } from '../src/testing/ops/mlp.js';
import { expectClose, randomArray } from './compare.js';
import { openRuntime, selectedRuntimes, type KernelRuntime } from './runtimes.js';

// Both layouts, with half = inner (last) or inner · channels (middle) a multiple of 4 (vec4
// kernels) or not (lane-by-lane kernels), and counts that straddle the 64-invocation
// workgroup. The TRM shapes: channel mixing with inner 1536, and token mixing with inner 512
// over 512 channels (the output of the 97 → 2·512 projection along the sequence axis).
const SHAPES: SwigluShape[] = [
  { axis: 'last', rows: 1, inner: 1 },
  { axis: 'last', rows: 2, inner: 3 },
  { axis: 'last', rows: 3, inner: 5 },
  { axis: 'last', rows: 1, inner: 4 },
  { axis: 'last', rows: 5, inner: 8 },
  { axis: 'last', rows: 4, inner: 63 },
  { axis: 'last', rows: 3, inner: 65 },
  { axis: 'last', rows: 3, inner: 260 },
  { axis: 'last', rows: 2, inner: 1536 },
  { axis: 'middle', batch: 1, inner: 1, channels: 1 },
  { axis: 'middle', batch: 2, inner: 3, channels: 5 },
  { axis: 'middle', batch: 2, inner: 3, channels: 4 },
  { axis: 'middle', batch: 3, inner: 7, channels: 65 },
  { axis: 'middle', batch: 1, inner: 512, channels: 512 },
];

// Edge values for the gate: ±1000 (sigmoid exactly 0 or 1), where exp(−|x|) underflows, around
// zero, and NaN.
const EDGE_GATES = [1000, -1000, 100, -100, 88, -88, 20, -20, 0, -0, 1e-30, Number.NaN];

function describeShape(shape: SwigluShape): string {
  return shape.axis === 'last' ? `last ${shape.rows}x${shape.inner}` : `middle ${shape.batch}x${shape.inner}x${shape.channels}`;
}

function tolerance() {
  return { abs: 1e-6, rel: 16, reductionLength: 1 };
}

for (const runtimeName of selectedRuntimes()) {
  describe(`swiglu on ${runtimeName}`, () => {
    let runtime: KernelRuntime;

    beforeAll(async () => {
      runtime = await openRuntime(runtimeName);
    });

    afterAll(async () => {
      await runtime?.close();
    });

    async function forward(shape: SwigluShape, gateUp: Float32Array) {
      const outputs = await runtime.run({ op: 'swiglu.forward', params: { shape }, inputs: { gateUp } });
      expect(clobberedGuards(outputs.hiddenGuard), 'hidden guard').toEqual([]);
      return outputs.hidden;
    }

    async function backward(shape: SwigluShape, gateUp: Float32Array, dHidden: Float32Array) {
      const outputs = await runtime.run({ op: 'swiglu.backward', params: { shape }, inputs: { gateUp, dHidden } });
      expect(clobberedGuards(outputs.dGateUpGuard), 'dGateUp guard').toEqual([]);
      return outputs.dGateUp;
    }

    test.each(SHAPES.map((shape) => ({ name: describeShape(shape), shape })))('forward $name', async ({ shape }) => {
      const sizes = swigluSizes(shape);
      const gateUp = randomArray(sizes.gateUp, sizes.gateUp * 3 + 1, 6);
      const hidden = await forward(shape, gateUp);
      expectClose(hidden, swigluForwardReference(shape, gateUp), tolerance(), 'hidden');
    });

    test.each(SHAPES.map((shape) => ({ name: describeShape(shape), shape })))('backward $name', async ({ shape }) => {
      const sizes = swigluSizes(shape);
      const gateUp = randomArray(sizes.gateUp, sizes.gateUp * 5 + 2, 6);
      const dHidden = randomArray(sizes.hidden, sizes.hidden * 7 + 3);
      const dGateUp = await backward(shape, gateUp, dHidden);
      expectClose(dGateUp, swigluBackwardReference(shape, gateUp, dHidden), tolerance(), 'dGateUp');
    });

    // Gates cycle through the edge values (constant along channels); up is random, or NaN.
    const EDGE_SHAPES: SwigluShape[] = [
      { axis: 'last', rows: 2, inner: EDGE_GATES.length },
      { axis: 'middle', batch: 1, inner: EDGE_GATES.length, channels: 3 },
    ];

    function edgeInputs(shape: SwigluShape, upIsNaN: boolean) {
      const { outer, half } = swigluView(shape);
      const channels = shape.axis === 'last' ? 1 : shape.channels;
      const gateUp = randomArray(2 * outer * half, 31, 2);
      for (let o = 0; o < outer; o++) {
        for (let r = 0; r < half; r++) {
          gateUp[2 * o * half + r] = EDGE_GATES[Math.floor(r / channels) % EDGE_GATES.length];
          if (upIsNaN) gateUp[(2 * o + 1) * half + r] = Number.NaN;
        }
      }
      return gateUp;
    }

    test.each(EDGE_SHAPES.map((shape) => ({ name: describeShape(shape), shape })))('edge gates $name', async ({ shape }) => {
      const gateUp = edgeInputs(shape, false);
      const dHidden = randomArray(swigluSizes(shape).hidden, 32);

      const hidden = await forward(shape, gateUp);
      const expectedHidden = swigluForwardReference(shape, gateUp);
      expectClose(hidden, expectedHidden, tolerance(), 'hidden');
      expect(hidden.filter(Number.isNaN).length, 'NaN hidden values, one per NaN gate').toBe(expectedHidden.filter(Number.isNaN).length);

      const dGateUp = await backward(shape, gateUp, dHidden);
      expectClose(dGateUp, swigluBackwardReference(shape, gateUp, dHidden), tolerance(), 'dGateUp');
    });

    test.each(EDGE_SHAPES.map((shape) => ({ name: describeShape(shape), shape })))('NaN up $name', async ({ shape }) => {
      const gateUp = edgeInputs(shape, true);
      const dHidden = randomArray(swigluSizes(shape).hidden, 33);
      const { half } = swigluView(shape);

      const hidden = await forward(shape, gateUp);
      expect(hidden.every(Number.isNaN), 'every hidden value is NaN').toBe(true);

      // NaN in up reaches dGate but not dUp = dHidden ⊙ silu(gate).
      const dGateUp = await backward(shape, gateUp, dHidden);
      expectClose(dGateUp, swigluBackwardReference(shape, gateUp, dHidden), tolerance(), 'dGateUp');
      const dUp = dGateUp.subarray(half, 2 * half);
      const finiteGates = gateUp.subarray(0, half).filter(Number.isFinite).length;
      expect(dUp.filter(Number.isFinite).length, 'dUp finite wherever the gate is').toBe(finiteGates);
    });

    test('short gateUp names the operand', async () => {
      const shape: SwigluShape = { axis: 'last', rows: 2, inner: 4 };
      const run = runtime.run({ op: 'swiglu.forward', params: { shape }, inputs: { gateUp: new Float32Array(12) } });
      await expect(run).rejects.toThrow(/swiglu forward 'swiglu.forward': operand gateUp needs 16 32-bit values/);
    });
  });
}
