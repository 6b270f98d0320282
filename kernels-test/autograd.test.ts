// The tape on small graphs in Node: gradient accumulation, no-grad scopes, detach, and the
// release of pooled buffers.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Arena } from '../src/autograd/arena.js';
import { add } from '../src/autograd/ops.js';
import { Tape, type Tensor } from '../src/autograd/tape.js';
import { createGpu } from '../src/gpu/device.js';
import type { Gpu } from '../src/gpu/gpu.js';

const LENGTH = 6;

describe('tape', () => {
  let gpu: Gpu;
  let arena: Arena;
  let tape: Tape;
  let leafBuffer: GPUBuffer;

  beforeAll(async () => {
    gpu = await createGpu();
  });

  afterAll(() => {
    gpu?.destroy();
  });

  /** Creates a fresh tape and a leaf a = [1, 2, …] that needs a gradient. */
  function setUp(): Tensor {
    arena = new Arena(gpu);
    tape = new Tape(arena);
    leafBuffer = gpu.createBufferFrom('a', Float32Array.from({ length: LENGTH }, (_, i) => i + 1));
    return tape.external('a', { buffer: leafBuffer, offset: 0, size: LENGTH * 4 }, [LENGTH], true);
  }

  async function tearDown(): Promise<void> {
    await gpu.sync('tape test');
    arena.dispose();
    gpu.destroyBuffer(leafBuffer);
  }

  /** Seeds d(out) = ones; the seed is pooled, as backward() takes it over. */
  function onesLike(like: Tensor): Tensor {
    const seed = tape.gradFor(like);
    gpu.upload(seed.data.buffer, new Float32Array(like.size).fill(1));
    return seed;
  }

  async function read(tensor: Tensor): Promise<number[]> {
    return Array.from(await gpu.readFloat32(tensor.data.buffer, tensor.size));
  }

  test('tensor used twice accumulates both gradients', async () => {
    const a = setUp();
    await tape.tidy(async () => {
      const b = await add(tape, 'b = a + a', a, a);
      const c = await add(tape, 'c = b + a', b, a);
      expect(await read(c)).toEqual([3, 6, 9, 12, 15, 18]);
      expect(tape.length, 'closures recorded').toBe(2);

      await tape.backward([[c, onesLike(c)]]);
    });

    expect(a.grad, 'leaf gradient').not.toBeNull();
    expect(await read(a.grad as Tensor)).toEqual(new Array(LENGTH).fill(3));
    expect(tape.length, 'closures left after backward').toBe(0);
    tape.clearGrad(a);
    expect(arena.inUse, 'pooled buffers in use').toBe(0);
    await tearDown();
  });

  test('noGrad records nothing', async () => {
    const a = setUp();
    await tape.tidy(async () => {
      const b = await tape.noGrad(() => add(tape, 'b = a + a', a, a));
      expect(tape.length).toBe(0);
      expect(b.requiresGrad).toBe(false);
      expect(tape.recording, 'recording after the scope').toBe(true);
    });
    expect(arena.inUse, 'pooled buffers in use').toBe(0);
    await tearDown();
  });

  test('detach stops the gradient', async () => {
    const a = setUp();
    await tape.tidy(async () => {
      const b = await add(tape, 'b = a + a', a, a);
      const c = await add(tape, 'c = detach(b) + a', tape.detach(b), a);
      await tape.backward([[c, onesLike(c)]]);
    });
    expect(await read(a.grad as Tensor), 'only the direct path').toEqual(new Array(LENGTH).fill(1));
    tape.clearGrad(a);
    expect(arena.inUse).toBe(0);
    await tearDown();
  });

  test('tidy releases temporaries and keeps results', async () => {
    const a = setUp();
    const kept = await tape.noGrad(() =>
      tape.tidy(async () => {
        const b = await add(tape, 'b = a + a', a, a);
        return add(tape, 'c = b + b', b, b);
      }),
    );
    expect(arena.inUse, 'only the result is held').toBe(1);
    expect(await read(kept)).toEqual([4, 8, 12, 16, 20, 24]);
    tape.dispose(kept);
    expect(arena.inUse).toBe(0);
    await tearDown();
  });

  test('second pass reuses buffers and ops', async () => {
    const a = setUp();
    const pass = () =>
      tape.tidy(async () => {
        const b = await add(tape, 'b = a + a', a, a);
        const c = await add(tape, 'c = b + a', b, a);
        await tape.backward([[c, onesLike(c)]]);
        tape.clearGrad(a);
      });
    await pass();
    const bytes = gpu.allocatedBytes;
    const ops = arena.opCount;
    await pass();
    expect(gpu.allocatedBytes, 'bytes after the second pass').toBe(bytes);
    expect(arena.opCount, 'ops after the second pass').toBe(ops);
    await tearDown();
  });
});
