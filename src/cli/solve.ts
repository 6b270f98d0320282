// `trm solve`: shows the recursion on one puzzle, the grid after every supervision step with
// q_halt, and the final answer with the cells that break a rule.
import { parseArgs } from 'node:util';
import { loadModelCheckpoint, type ModelCheckpoint } from '../model/checkpoint.js';
import { cellCount, findGeometryForLength, findGridTextError, parseGrid, describeGeometry } from '../data/sudoku.js';
import { createEngine, ENGINE_RUNTIMES, type EngineRuntime } from '../train/engine.js';
import { IGNORE_LABEL } from '../kernels/losses.js';
import { conflictingCells, renderGrid } from './sudoku-view.js';
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
  const problem = findGridTextError(puzzleText, geometry, 'puzzle');
  if (problem) throw new UsageError(problem);
  if (cellCount(geometry) !== checkpoint.config.seqLen) {
    throw new UsageError(`puzzle is ${describeGeometry(geometry)} but the checkpoint was trained on ${checkpoint.config.seqLen}-cell puzzles`);
  }

  const puzzle = parseGrid(puzzleText, geometry);
  const cells = cellCount(geometry);
  const engine = await createEngine({ ...checkpoint.config, batch: 1 }, { seed: 0, params: checkpoint.params, runtime });
  try {
    const batch = { inputs: Int32Array.from(puzzle, (value) => value + 1), labels: new Int32Array(cells).fill(IGNORE_LABEL), puzzleIds: new Int32Array(1), validRows: 1 };
    const predictions = await engine.evaluate(batch);

    const lines = [`puzzle (${describeGeometry(geometry)}, ${puzzle.filter((v) => v !== 0).length} givens):`, renderGrid(puzzle, geometry), ''];
    let previous: Uint8Array = puzzle;
    predictions.tokens.forEach((tokens, index) => {
      const grid = toGrid(tokens, cells);
      const changed = new Set([...grid.keys()].filter((cell) => grid[cell] !== previous[cell]));
      const qHalt = predictions.qHalt[index][0];
      lines.push(`step ${index + 1}: q_halt ${qHalt.toFixed(2)} (${qHalt > 0 ? 'halt' : 'continue'}), ${changed.size} cells changed`);
      lines.push(renderGrid(grid, geometry, { changed, conflicts: conflictingCells(grid, geometry) }), '');
      previous = grid;
    });

    const conflicts = conflictingCells(previous, geometry);
    const keptGivens = [...puzzle.keys()].every((cell) => puzzle[cell] === 0 || puzzle[cell] === previous[cell]);
    lines.push(`answer: ${[...previous].join('')}`);
    lines.push(conflicts.size === 0 && keptGivens ? 'the answer is a valid solution' : `the answer is not valid: ${conflicts.size} cells break a rule${keptGivens ? '' : ', and some givens were changed'}`);
    return lines;
  } finally {
    await engine.dispose();
  }
}

/** Converts predicted tokens (2… = digits) to cell values; anything else becomes blank. */
function toGrid(tokens: Int32Array, cells: number): Uint8Array {
  return Uint8Array.from(tokens.subarray(0, cells), (token) => (token >= 2 ? token - 1 : 0));
}
