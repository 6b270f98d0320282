// `trm solve`: shows the recursion on one puzzle, the grid after every supervision step with
// q_halt, and the final answer with the cells that break a rule.
import { parseArgs } from 'node:util';
import { loadModelCheckpoint, type ModelCheckpoint } from '../model/checkpoint.js';
import { cellCount, countGivens, describeGeometry, findContradiction, findGeometryForLength } from '../data/sudoku.js';
import { createEngine, ENGINE_RUNTIMES, type EngineRuntime } from '../train/engine.js';
import { parsePuzzle, puzzleBatch, solveResultFrom, type SolveResult } from '../trm.js';
import { renderGrid } from './sudoku-view.js';
import { choiceOption, UsageError } from './options.js';

export const SOLVE_USAGE = `Usage: trm solve --checkpoint CKPT [--runtime node|browser] PUZZLE

Runs every supervision step on one puzzle and prints the grid after each step with q_halt
(the model's halting logit; it would stop training on this puzzle once q_halt > 0).
Changed cells are marked '*', cells that break a Sudoku rule '!'.

PUZZLE is 16, 36 or 81 characters (4×4, 6×6, 9×9), row-major, '.' or '0' for blanks.

Options:
  --checkpoint CKPT  A .safetensors model or training checkpoint
  --runtime node|browser
                     Where the kernels run: Dawn in this process (default) or Chromium's
                     WebGPU in a headless page
  -h, --help         Show this text`;

export async function solveCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { checkpoint: { type: 'string' }, runtime: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(SOLVE_USAGE);
    return 0;
  }
  if (!values.checkpoint) throw new UsageError('missing --checkpoint CKPT');
  if (positionals.length !== 1) throw new UsageError(`expected one PUZZLE argument, got ${positionals.length}`);

  const runtime = choiceOption('runtime', values.runtime, ENGINE_RUNTIMES, 'node');
  const checkpoint = await loadModelCheckpoint(values.checkpoint);
  const lines = await solvePuzzle(checkpoint, positionals[0], runtime);
  for (const line of lines) console.log(line);
  return 0;
}

/** Returns the printed lines of a solve: one block per supervision step, then the answer. */
export async function solvePuzzle(checkpoint: ModelCheckpoint, text: string, runtime: EngineRuntime = 'node'): Promise<string[]> {
  const puzzleText = text.trim();
  const geometry = findGeometryForLength(puzzleText.length);
  if (!geometry) throw new UsageError(`puzzle has ${puzzleText.length} characters, expected 16, 36 or 81`);
  if (cellCount(geometry) !== checkpoint.config.seqLen) {
    const trained = findGeometryForLength(checkpoint.config.seqLen);
    const trainedOn = trained ? `${describeGeometry(trained)} puzzles` : `${checkpoint.config.seqLen}-cell sequences`;
    throw new UsageError(`puzzle is ${describeGeometry(geometry)} but the checkpoint was trained on ${trainedOn}`);
  }

  let puzzle: Uint8Array;
  try {
    puzzle = parsePuzzle(puzzleText, geometry);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }

  const engine = await createEngine({ ...checkpoint.config, batch: 1 }, { seed: 0, params: checkpoint.params, runtime });
  try {
    return renderSolve(solveResultFrom(await engine.evaluate(puzzleBatch(puzzle)), puzzle, geometry));
  } finally {
    await engine.dispose();
  }
}

function renderSolve(result: SolveResult): string[] {
  const { geometry, puzzle } = result;
  const lines = [`puzzle (${describeGeometry(geometry)}, ${countGivens(puzzle)} givens):`, renderGrid(puzzle, geometry), ''];
  for (const step of result.steps) {
    const marks = { changed: new Set(step.changed), conflicts: new Set(step.conflicts) };
    lines.push(`step ${step.step}: q_halt ${step.qHalt.toFixed(2)} (${step.qHalt > 0 ? 'halt' : 'continue'}), ${step.changed.length} cells changed`);
    lines.push(renderGrid(step.grid, geometry, marks), '');
  }

  const conflicts = result.steps[result.steps.length - 1].conflicts.length;
  const keptGivens = findContradiction(puzzle, result.answer, geometry) === null;
  lines.push(`answer: ${result.answer.join('')}`);
  lines.push(result.valid ? 'the answer is a valid solution' : `the answer is not valid: ${conflicts} cells break a rule${keptGivens ? '' : ', and some givens were changed'}`);
  return lines;
}
