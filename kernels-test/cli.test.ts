// The `trm` command line end to end in child processes: train → eval → solve, resume,
// Ctrl-C, and bad input.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { generateSudokuSet } from '../src/data/generator.js';
import { formatGrid, puzzleAt, answerAt, SUDOKU_4X4 } from '../src/data/sudoku.js';
import { parseSafetensors, serializeSafetensors } from '../src/io/safetensors.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'src', 'cli.js');
const work = mkdtempSync(join(tmpdir(), 'trm-cli-'));

// Small enough for a few seconds per run on a CPU adapter.
const TRAIN_ARGS = ['--config', 'tiny-mlp', '--batch', '8', '--generate', '200', '--eval-limit', '16', '--log-every', '2', '--seed', '1'];

function trm(args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: work, encoding: 'utf8', timeout: 300_000, env: { ...process.env, DEBUG: '0' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function metricsSteps(run: string, kind: string): number[] {
  return readFileSync(join(work, run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { kind: string; step: number })
    .filter((record) => record.kind === kind)
    .map((record) => record.step);
}

function checkpointMetadata(path: string): Record<string, string> {
  return parseSafetensors(readFileSync(path)).metadata;
}

describe('trm command line', () => {
  let csv: string;
  let puzzle: string;

  beforeAll(() => {
    const set = generateSudokuSet(12, { seed: 99, geometry: SUDOKU_4X4 });
    const rows = Array.from({ length: set.count }, (_, i) => `${formatGrid(puzzleAt(set, i))},${formatGrid(answerAt(set, i))},generated`);
    csv = join(work, 'puzzles.csv');
    writeFileSync(csv, ['question,answer,source', ...rows].join('\n') + '\n');
    puzzle = formatGrid(puzzleAt(set, 0));
  });

  test('train writes metrics, plot and checkpoints', () => {
    const result = trm(['train', '--out', 'run-a', '--steps', '6', '--eval-every', '3', ...TRAIN_ARGS]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/step 6\/6 {2}loss \d+\.\d+ {2}token \d+\.\d% {2}exact \d+\.\d%/);
    expect(result.stdout).toMatch(/eval step 6: exact \d+\.\d%/);
    expect(metricsSteps('run-a', 'train')).toEqual([2, 4, 6]);
    expect(metricsSteps('run-a', 'eval')).toEqual([3, 6]);
    for (const file of ['plot.svg', 'run.json', 'last.safetensors', 'best.safetensors']) expect(existsSync(join(work, 'run-a', file)), file).toBe(true);
  });

  test('eval scores a checkpoint', () => {
    const result = trm(['eval', '--checkpoint', 'run-a/last.safetensors', '--data', csv, '--json']);
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout) as { puzzles: number; exactAccuracy: number; tokenAccuracy: number; copyBaselineTokenAccuracy: number };
    expect(report.puzzles).toBe(12);
    expect(report.exactAccuracy).toBeGreaterThanOrEqual(0);
    expect(report.tokenAccuracy).toBeGreaterThan(0);
    expect(report.copyBaselineTokenAccuracy).toBeGreaterThan(0);
  });

  test('solve prints every supervision step', () => {
    const result = trm(['solve', '--checkpoint', 'run-a/last.safetensors', puzzle]);
    expect(result.status).toBe(0);
    const steps = [...result.stdout.matchAll(/^step (\d+): q_halt -?\d+\.\d\d/gm)].map((match) => Number(match[1]));
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // An untrained model may still predict blanks, printed as 0.
    expect(result.stdout).toMatch(/^answer: [0-4]{16}$/m);
  });

  test('trace writes every step tensor', () => {
    const inputs = Int32Array.from({ length: 2 * 16 }, (_, i) => 1 + (i % 5));
    const labels = Int32Array.from({ length: 2 * 16 }, (_, i) => 2 + (i % 4));
    writeFileSync(join(work, 'batch.safetensors'), serializeSafetensors({
      inputs: { shape: [2, 16], data: inputs },
      labels: { shape: [2, 16], data: labels },
      puzzle_identifiers: { shape: [2], data: new Int32Array(2) },
    }));
    const result = trm(['trace', '--checkpoint', 'run-a/last.safetensors', '--batch', 'batch.safetensors', '--out', 'trace.safetensors', '--steps', '2']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);

    const trace = parseSafetensors(readFileSync(join(work, 'trace.safetensors'))).tensors;
    expect(trace.get('step2.logits')?.shape).toEqual([2, 16, 6]);
    expect(trace.get('step1.q_halt_logits')?.shape).toEqual([2]);
    expect(trace.get('step2.loss')?.shape).toEqual([1]);
    expect(Number.isFinite((trace.get('step2.loss')?.data as Float32Array)[0])).toBe(true);
    expect(trace.get('step1.grad.lm_head.weight')?.shape).toEqual([6, 32]);
    expect(trace.get('step1.grad.puzzle_emb.weights')?.shape).toEqual([1, 32]);
    expect(trace.get('step2.param.H_init')?.shape).toEqual([32]);
    expect(trace.get('step2.ema.L_level.layers.1.mlp.down_proj.weight')).toBeDefined();

    // Each step's optimizer update changes the parameters.
    const before = trace.get('step1.param.lm_head.weight')?.data as Float32Array;
    const after = trace.get('step2.param.lm_head.weight')?.data as Float32Array;
    expect(Array.from(after)).not.toEqual(Array.from(before));
  });

  test('train runs in the browser runtime', () => {
    const result = trm(['train', '--out', 'run-browser', '--runtime', 'browser', '--steps', '4', '--eval-every', '4', ...TRAIN_ARGS]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/step 4\/4 {2}loss \d+\.\d+/);
    expect(metricsSteps('run-browser', 'train')).toEqual([2, 4]);
    expect(metricsSteps('run-browser', 'eval')).toEqual([4]);
    expect(JSON.parse(readFileSync(join(work, 'run-browser', 'run.json'), 'utf8')).runtime).toBe('browser');

    const checkpoint = parseSafetensors(readFileSync(join(work, 'run-browser', 'last.safetensors')));
    expect(checkpoint.metadata.step).toBe('4');
    expect(checkpoint.tensors.get('train.slots.y')?.shape).toEqual([8, 20, 32]);
    expect(Object.keys(JSON.parse(checkpoint.metadata.matmul_variants)).length).toBeGreaterThan(0);

    const evaluation = trm(['eval', '--checkpoint', 'run-browser/last.safetensors', '--data', csv, '--json']);
    expect(evaluation.stderr).toBe('');
    expect(evaluation.status).toBe(0);
    expect((JSON.parse(evaluation.stdout) as { puzzles: number }).puzzles).toBe(12);
  });

  test('resume continues the same run', () => {
    const straight = trm(['train', '--out', 'run-straight', '--steps', '8', '--eval-every', '4', ...TRAIN_ARGS]);
    expect(straight.status).toBe(0);
    const first = trm(['train', '--out', 'run-resumed', '--steps', '4', '--eval-every', '4', ...TRAIN_ARGS]);
    expect(first.status).toBe(0);
    const resumed = trm(['train', '--resume', 'run-resumed', '--steps', '8']);
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toMatch(/resumed run-resumed at step 4/);

    expect(metricsSteps('run-resumed', 'train')).toEqual([2, 4, 6, 8]);
    const straightCheckpoint = checkpointMetadata(join(work, 'run-straight', 'last.safetensors'));
    const resumedCheckpoint = checkpointMetadata(join(work, 'run-resumed', 'last.safetensors'));
    expect(resumedCheckpoint.step).toBe('8');
    // The data stream continues where it stopped: both runs consumed the same batches.
    expect(resumedCheckpoint.batcher).toBe(straightCheckpoint.batcher);
  });

  test('Ctrl-C saves a checkpoint first', async () => {
    const child = spawn(process.execPath, [cli, 'train', '--out', 'run-interrupted', '--steps', '100000', '--eval-every', '100000', ...TRAIN_ARGS], { cwd: work, env: { ...process.env, DEBUG: '0' } });
    let output = '';
    let interrupted = false;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (!interrupted && /step 2\//.test(output)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const status = await new Promise<number | null>((resolve) => child.on('exit', resolve));

    expect(status).toBe(130);
    expect(existsSync(join(work, 'run-interrupted', 'last.safetensors'))).toBe(true);
    expect(output).toMatch(/checkpoint: run-interrupted\/last\.safetensors \(step \d+\)/);
  });

  test.each([
    [['train', '--steps', 'x', '--out', 'r'], /invalid --steps 'x': expected an integer ≥ 1/],
    [['train'], /missing --out RUN_DIR/],
    [['train', '--out', 'run-a'], /already contains a run; continue it with --resume/],
    [['train', '--out', 'r2', '--data', 'missing.csv'], /data not found: missing\.csv/],
    [['solve', '--checkpoint', 'run-a/last.safetensors', '12x4'], /puzzle has 4 characters, expected 16, 36 or 81/],
    [['solve', '--checkpoint', 'run-a/last.safetensors', '11..............'], /puzzle is invalid: digit 1 appears twice in row 1/],
    [['solve', '--checkpoint', 'run-a/last.safetensors', '.'.repeat(81)], /puzzle is 9×9 but the checkpoint was trained on 4×4 puzzles/],
    [['eval', '--checkpoint', 'nothing.safetensors', '--data', 'x.csv'], /checkpoint not found: nothing\.safetensors/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['train', '--resume', 'run-a'], /run-a is already at step 6; pass --steps above 6/],
    [['train', '--resume', 'run-a', '--steps', '9', '--lr', '0.5'], /--resume takes only --steps and --runtime/],
    [['train', '--out', 'r3', '--runtime', 'gpu'], /invalid --runtime 'gpu': expected node or browser/],
    [['train', '--steps', '-3', '--out', 'r4'], /--steps needs a value, and a value that starts with '-' must be attached with '=', as in --steps=VALUE/],
    [['solve', '--frobnicate'], /unknown option '--frobnicate' for 'trm solve'; run 'trm solve --help' for its options/],
    [['eval', '--checkpoint', 'run-a/last.safetensors', '--data', 'missing.csv'], /data not found: missing\.csv/],
  ])('rejects %j', (args, message) => {
    const result = trm(args);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(message);
  });

  test('version prints the package version', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const result = trm(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(`trm-webgpu ${manifest.version}`);
  });
});
