// Resuming a training run through runTraining, the code path of `trm train --resume`: a run
// stopped and resumed must reproduce an uninterrupted run bit for bit, and must reuse the
// matmul variants recorded in its checkpoint instead of tuning again.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runTraining, type RunOptions } from '../src/cli/train.js';
import { SUDOKU_4X4 } from '../src/data/sudoku.js';
import { parseSafetensors, serializeSafetensors, type SafetensorsContents } from '../src/io/safetensors.js';
import { setMatmulTuning } from '../src/kernels/matmul-tuning.js';
import { trmConfig } from '../src/model/config.js';
import { setDebugLevel } from '../src/log.js';

const work = mkdtempSync(join(tmpdir(), 'trm-resume-'));

function runOptions(out: string, steps: number): RunOptions {
  return {
    data: {
      badRows: 'stop',
      generate: { geometry: SUDOKU_4X4, trainCount: 200, testCount: 16, seed: 3, difficulty: 1 },
      heldOutFromData: 1000,
    },
    out: join(work, out),
    configName: 'tiny-mlp',
    config: { ...trmConfig('tiny-mlp'), batch: 8 },
    steps,
    evalEvery: 4,
    evalLimit: 16,
    logEvery: 1,
    seed: 3,
    augment: true,
  };
}

/** Resumes through run.json, as `trm train --resume RUN_DIR --steps N` does. */
async function resume(out: string, steps: number): Promise<number> {
  const saved = JSON.parse(readFileSync(join(work, out, 'run.json'), 'utf8')) as RunOptions;
  return runTraining({ ...saved, steps }, true);
}

function checkpoint(out: string): SafetensorsContents {
  return parseSafetensors(readFileSync(join(work, out, 'last.safetensors')));
}

function bytesOf(data: ArrayBufferView): number[] {
  return Array.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/** Returns the train records of metrics.jsonl without their wall-clock fields. */
function trainRecords(out: string): Record<string, unknown>[] {
  return readFileSync(join(work, out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((record) => record.kind === 'train')
    .map(({ time, stepsPerSecond, ...record }) => record);
}

describe('train resume', () => {
  beforeAll(() => setDebugLevel(0));
  afterAll(() => setMatmulTuning(true));

  test('stop and resume matches straight run', async () => {
    // Two fresh runs time the matmul variants independently and may pick different ones, so
    // both use the default variants here. The next test covers the variants of a resume.
    setMatmulTuning(false);
    expect(await runTraining(runOptions('straight', 9), false)).toBe(0);
    // Stopping at 3 puts the resume point between two evaluations (steps 4 and 8) and the
    // first run evaluates at its last step, which the straight run does not.
    expect(await runTraining(runOptions('split', 3), false)).toBe(0);
    expect(await resume('split', 9)).toBe(0);

    const straight = checkpoint('straight');
    const split = checkpoint('split');
    expect(split.metadata.step).toBe('9');
    expect([...split.tensors.keys()]).toEqual([...straight.tensors.keys()]);
    expect(split.tensors.has('train.slots.y')).toBe(true);
    for (const [name, tensor] of straight.tensors) {
      expect(bytesOf(split.tensors.get(name)?.data as ArrayBufferView), name).toEqual(bytesOf(tensor.data));
    }
    expect(split.metadata.exploration_rng).toBe(straight.metadata.exploration_rng);
    expect(split.metadata.batcher).toBe(straight.metadata.batcher);

    const straightRecords = trainRecords('straight');
    expect(straightRecords.map((record) => record.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // JSON prints the shortest text that parses back to the same float64, so equal records are equal bits.
    expect(trainRecords('split')).toEqual(straightRecords);
  });

  test('resume pins the recorded matmul variants', async () => {
    setMatmulTuning(true);
    expect(await runTraining(runOptions('pinned', 2), false)).toBe(0);

    // Neither tuning nor the default picks 'tiled' on a CPU adapter, so a resumed run that
    // uses it took the pinned choice. One shape only, because 'tiled' is slow there.
    const first = checkpoint('pinned');
    const recorded = JSON.parse(first.metadata.matmul_variants) as Record<string, string>;
    const [forcedShape] = Object.keys(recorded);
    expect(forcedShape).toBeDefined();
    expect(recorded[forcedShape]).not.toBe('tiled');
    const forced = { ...recorded, [forcedShape]: 'tiled' };
    const tensors = new Map([...first.tensors].map(([name, tensor]) => [name, { shape: tensor.shape, data: tensor.data as Float32Array | Int32Array }]));
    writeFileSync(join(work, 'pinned', 'last.safetensors'), serializeSafetensors(tensors, { ...first.metadata, matmul_variants: JSON.stringify(forced) }));

    expect(await resume('pinned', 3)).toBe(0);
    const resumed = JSON.parse(checkpoint('pinned').metadata.matmul_variants) as Record<string, string>;
    expect(resumed).toEqual(forced);
    const losses = trainRecords('pinned').map((record) => record.loss as number);
    expect(losses).toHaveLength(3);
    for (const loss of losses) expect(Number.isFinite(loss)).toBe(true);
  });

  test('checkpoint without slot state still resumes', async () => {
    setMatmulTuning(false);
    expect(await runTraining(runOptions('older', 2), false)).toBe(0);

    // A checkpoint as written before slots, generator and variants were saved.
    const first = checkpoint('older');
    const tensors = new Map([...first.tensors].filter(([name]) => !name.startsWith('train.slots.')).map(([name, tensor]) => [name, { shape: tensor.shape, data: tensor.data as Float32Array | Int32Array }]));
    const { exploration_rng: _rng, matmul_variants: _variants, ...metadata } = first.metadata;
    writeFileSync(join(work, 'older', 'last.safetensors'), serializeSafetensors(tensors, metadata));

    expect(await resume('older', 3)).toBe(0);
    const resumed = checkpoint('older');
    expect(resumed.metadata.step).toBe('3');
    expect(resumed.tensors.get('train.slots.steps')?.shape).toEqual([8]);
    // Every slot restarted at step 3, so each has taken exactly one supervision step.
    expect(Array.from(resumed.tensors.get('train.slots.steps')?.data as Int32Array)).toEqual(new Array(8).fill(1));
  });
});
