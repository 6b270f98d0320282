// The public Trm API in Node: training through a batcher, solving with per-step results,
// checkpoint bytes round trips, bad input, and disposal of every buffer. The same API in the
// browser bundle is tested in demo-page.test.ts.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createGpu } from '../src/gpu/device.js';
import { setMatmulTuning } from '../src/kernels/matmul-tuning.js';
import { CheckpointError, decodeModelCheckpoint } from '../src/model/checkpoint.js';
import { generateSudoku, generateSudokuSet } from '../src/data/generator.js';
import { formatGrid, SUDOKU_4X4, SUDOKU_6X6 } from '../src/data/sudoku.js';
import { TrainingBatcher } from '../src/train/sudoku-batches.js';
import { Trm } from '../src/trm.js';

setMatmulTuning(false);

const set = generateSudokuSet(64, { seed: 11, geometry: SUDOKU_4X4, difficulty: 1 });
const example = generateSudoku({ seed: 12, geometry: SUDOKU_4X4, difficulty: 1 });

describe('Trm API', () => {
  let trm: Trm;

  beforeAll(async () => {
    trm = await Trm.create({ config: 'tiny-mlp', geometry: SUDOKU_4X4, overrides: { batch: 8 }, seed: 4 });
    const batcher = new TrainingBatcher(set, trm.config.batch, 4, true);
    for (let i = 0; i < 3; i++) await trm.trainStep(batcher.next());
  });

  afterAll(() => trm?.dispose());

  test('fits the config to the geometry', () => {
    expect(trm.config.seqLen).toBe(16);
    expect(trm.config.vocab).toBe(6);
    expect(trm.geometry).toEqual(SUDOKU_4X4);
    expect(trm.step).toBe(3);
  });

  test('reads finite metrics of the last step', async () => {
    const metrics = await trm.readMetrics();
    expect(metrics.step).toBe(3);
    expect(Number.isFinite(metrics.loss)).toBe(true);
    expect(metrics.tokenAccuracy).toBeGreaterThanOrEqual(0);
    expect(metrics.tokenAccuracy).toBeLessThanOrEqual(1);
  });

  test('solve returns every supervision step', async () => {
    const result = await trm.solve(formatGrid(example.puzzle));
    expect(result.steps).toHaveLength(trm.config.maxSupervisionSteps);
    expect(Array.from(result.puzzle)).toEqual(Array.from(example.puzzle));

    let previous = result.puzzle;
    for (const step of result.steps) {
      expect(step.grid).toHaveLength(16);
      expect(Number.isFinite(step.qHalt)).toBe(true);
      const changed = [...step.grid.keys()].filter((cell) => step.grid[cell] !== previous[cell]);
      expect(step.changed).toEqual(changed);
      previous = step.grid;
    }
    expect(Array.from(result.answer)).toEqual(Array.from(previous));
  });

  test('solve accepts an array of cell values', async () => {
    const fromText = await trm.solve(formatGrid(example.puzzle));
    const fromArray = await trm.solve(Array.from(example.puzzle));
    expect(Array.from(fromArray.answer)).toEqual(Array.from(fromText.answer));
  });

  test('solve rejects malformed puzzles', async () => {
    await expect(trm.solve('1234')).rejects.toThrow(/puzzle has 4 characters, expected 16 for a 4×4 grid/);
    await expect(trm.solve('1x..............')).rejects.toThrow(/invalid character "x" at position 2/);
    await expect(trm.solve(new Array(16).fill(5))).rejects.toThrow(/puzzle cell 1 is 5, expected 0 \(blank\) or a digit 1-4/);
    await expect(trm.solve('11..............')).rejects.toThrow(/puzzle is invalid: digit 1 appears twice in row 1/);
  });

  test('evaluate rejects puzzles of another size', async () => {
    const other = generateSudokuSet(2, { seed: 1, geometry: SUDOKU_6X6 });
    await expect(trm.evaluate(other)).rejects.toThrow(/the puzzles are 6×6 but the model takes 4×4 grids/);
  });

  test('evaluate scores the EMA weights', async () => {
    const report = await trm.evaluate(set, { limit: 10 });
    expect(report.puzzles).toBe(10);
    expect(report.tokenAccuracy).toBeGreaterThanOrEqual(0);
    expect(report.tokenAccuracy).toBeLessThanOrEqual(1);
  });

  test('checkpoint bytes load back with the same answers', async () => {
    const bytes = await trm.saveCheckpoint({ epoch: 0, position: 24 });
    const model = decodeModelCheckpoint(bytes, 'saved');
    expect(model.metadata.step).toBe('3');
    expect(model.config.seqLen).toBe(16);

    const copy = bytes.slice().buffer as ArrayBuffer;
    const loaded = await Trm.load(copy, { overrides: { batch: 1 } });
    try {
      expect(loaded.step).toBe(3);
      expect(loaded.config.batch).toBe(1);
      const original = await trm.solve(formatGrid(example.puzzle));
      const reloaded = await loaded.solve(formatGrid(example.puzzle));
      expect(reloaded.steps.map((step) => formatGrid(step.grid))).toEqual(original.steps.map((step) => formatGrid(step.grid)));
      expect(reloaded.steps.map((step) => step.qHalt)).toEqual(original.steps.map((step) => step.qHalt));
    } finally {
      loaded.dispose();
    }
  });

  test('loaded checkpoint continues training', async () => {
    const bytes = await trm.saveCheckpoint({ epoch: 0, position: 24 });
    const loaded = await Trm.load(bytes, { source: 'saved' });
    try {
      const batcher = new TrainingBatcher(set, loaded.config.batch, 9, false);
      await loaded.trainStep(batcher.next());
      const metrics = await loaded.readMetrics();
      expect(metrics.step).toBe(4);
      expect(Number.isFinite(metrics.loss)).toBe(true);
    } finally {
      loaded.dispose();
    }
  });

  test('load rejects bytes that are not a checkpoint', async () => {
    await expect(Trm.load(new Uint8Array([1, 2, 3]), { source: 'notes.txt' })).rejects.toThrow(CheckpointError);
    await expect(Trm.load(new TextEncoder().encode('{"a":1}'), { source: 'notes.txt' })).rejects.toThrow(/invalid checkpoint notes\.txt/);
  });

  test('load rejects an override of a shape field', async () => {
    const bytes = await trm.saveCheckpoint();
    await expect(Trm.load(bytes, { source: 'run.safetensors', overrides: { hidden: 64 } })).rejects.toThrow(
      /override hidden = 64 does not match the checkpoint's 32/,
    );
  });
});

describe('Trm disposal', () => {
  test('rejects calls after dispose', async () => {
    const model = await Trm.create({ config: 'tiny-mlp', geometry: SUDOKU_4X4, overrides: { batch: 2 } });
    model.dispose();
    model.dispose();
    await expect(model.solve(formatGrid(example.puzzle))).rejects.toThrow(/^solve: this model has been disposed; create or load a new one$/);
    await expect(model.saveCheckpoint()).rejects.toThrow(/^saveCheckpoint: this model has been disposed/);
  });

  test('returns the bytes of an adopted device', async () => {
    const gpu = await createGpu();
    const created: GPUBuffer[] = [];
    const destroyed = new Set<GPUBuffer>();
    const createBuffer = gpu.device.createBuffer.bind(gpu.device);
    gpu.device.createBuffer = (descriptor: GPUBufferDescriptor) => {
      const buffer = createBuffer(descriptor);
      const destroy = buffer.destroy.bind(buffer);
      buffer.destroy = () => {
        destroyed.add(buffer);
        destroy();
      };
      created.push(buffer);
      return buffer;
    };
    const liveBytes = () => created.filter((buffer) => !destroyed.has(buffer)).reduce((total, buffer) => total + buffer.size, 0);

    try {
      const trm = await Trm.create({ device: gpu.device, config: 'tiny-mlp', geometry: SUDOKU_4X4, overrides: { batch: 4 } });
      expect(trm.allocatedBytes).toBeGreaterThan(0);

      const batcher = new TrainingBatcher(set, 4, 1, false);
      await trm.trainStep(batcher.next());
      await trm.readMetrics();
      await trm.solve(formatGrid(example.puzzle));
      await trm.evaluate(set, { limit: 4 });
      await trm.saveCheckpoint();
      trm.dispose();

      expect(trm.allocatedBytes).toBe(0);
      expect(created.length).toBeGreaterThan(10);
      expect(liveBytes()).toBe(0);

      const probe = gpu.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
      expect(probe.size, 'the application device still works').toBe(16);
    } finally {
      gpu.destroy();
    }
  });
});
