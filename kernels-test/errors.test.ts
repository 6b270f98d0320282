import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { linearForwardPlan } from '../src/kernels/matmul.js';
import { openRuntime, selectedRuntimes, type KernelRuntime } from './runtimes.js';

const inputs = () => ({ a: new Float32Array(16), b: new Float32Array(16), c: new Float32Array(16) });

for (const runtimeName of selectedRuntimes()) {
  describe(`GPU errors on ${runtimeName}`, () => {
    let runtime: KernelRuntime;

    beforeAll(async () => {
      runtime = await openRuntime(runtimeName);
    });

    afterAll(async () => {
      await runtime?.close();
    });

    test('validation error names the kernel', async () => {
      const run = runtime.run({ op: 'fault.validation', params: {}, inputs: inputs() });
      await expect(run).rejects.toThrow(/kernel 'matmul\.tiled' failed on the GPU/);
    });

    test('device still works after a validation error', async () => {
      const outputs = await runtime.run({
        op: 'matmul',
        params: { plan: linearForwardPlan(1, 1, 2), variant: 'registers' },
        inputs: { a: new Float32Array([2, 3]), b: new Float32Array([5, 7]), c: new Float32Array([0]) },
      });
      expect(Array.from(outputs.c)).toEqual([31]);
    });

    test('oversized binding fails before dispatch', async () => {
      const run = runtime.run({ op: 'fault.oversized-binding', params: {}, inputs: inputs() });
      await expect(run).rejects.toThrow(/binding 0 \('a'\) is \d+ bytes, more than this device's maxStorageBufferBindingSize/);
    });

    test('lost device throws DeviceLostError', async () => {
      const run = runtime.run({ op: 'fault.lost-device', params: {}, inputs: inputs() });
      await expect(run).rejects.toThrow(/WebGPU device lost \(reason: destroyed/);
    });
  });
}
