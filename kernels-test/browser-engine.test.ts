// The browser training runtime: a TrainingEngine whose trainer runs in a headless Chromium
// page. The state must cross the page boundary bit for bit, and a failure inside the page
// must come back as one line that names the call.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { trmConfig, type TrmConfig } from '../src/model/config.js';
import { setDebugLevel } from '../src/log.js';
import { createEngine, type TrainingEngine } from '../src/train/engine.js';
import type { TokenBatch } from '../src/train/sudoku-batches.js';

const config: TrmConfig = { ...trmConfig('test-tiny'), batch: 2 };

function exampleBatch(seed: number): TokenBatch {
  const cells = config.batch * config.seqLen;
  return {
    inputs: Int32Array.from({ length: cells }, (_, i) => 1 + ((i * 7 + seed) % (config.vocab - 1))),
    labels: Int32Array.from({ length: cells }, (_, i) => 2 + ((i * 3 + seed) % (config.vocab - 2))),
    puzzleIds: new Int32Array(config.batch),
    validRows: config.batch,
  };
}

function bytesOf(data: ArrayBufferView): number[] {
  return Array.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

describe('browser training engine', () => {
  let engine: TrainingEngine;

  beforeAll(async () => {
    setDebugLevel(0);
    engine = await createEngine(config, { seed: 4, runtime: 'browser' });
  });

  afterAll(async () => {
    await engine?.dispose();
  });

  test('state round trip through the page', async () => {
    await engine.trainStep(exampleBatch(1));
    await engine.trainStep(exampleBatch(2));
    const metrics = await engine.readMetrics();
    expect(metrics.step).toBe(2);
    expect(Number.isFinite(metrics.loss)).toBe(true);
    expect(metrics.slots.steps).toBeInstanceOf(Uint32Array);

    const before = await engine.exportState();
    expect(before.explorationRng).toHaveLength(4);
    await engine.trainStep(exampleBatch(3));
    await engine.loadState(before);
    const after = await engine.exportState();

    expect(after.step).toBe(2);
    expect(after.explorationRng).toEqual(before.explorationRng);
    for (const [field, data] of Object.entries(before.slots)) {
      expect(bytesOf(after.slots[field as keyof typeof before.slots]), field).toEqual(bytesOf(data));
    }
    expect(bytesOf(after.params.dense)).toEqual(bytesOf(before.params.dense));
    expect(bytesOf(after.adamV)).toEqual(bytesOf(before.adamV));
  });

  test('page error is one line naming the call', async () => {
    const bad = { ...exampleBatch(1), inputs: new Int32Array(5) };
    const error = await engine.trainStep(bad).then(() => null, (caught: Error) => caught);
    expect(error?.message).toMatch(/^browser runtime: trainStep failed in Chromium: trainStep: inputs has 5 entries/);
    expect(error?.message).not.toContain('\n');
  });
});
