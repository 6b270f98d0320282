// The built-in default task behind `npm start`: train a small TRM on generated 4×4 Sudoku,
// evaluate it on 1000 held-out generated puzzles, and solve one of them step by step.
import { join } from 'node:path';
import { formatGrid, cellCount, SUDOKU_4X4 } from '../data/sudoku.js';
import { generateSudoku } from '../data/generator.js';
import { loadModelCheckpoint } from '../model/checkpoint.js';
import { trmConfig } from '../model/config.js';
import { solvePuzzle } from './solve.js';
import { runTraining, type RunOptions } from './train.js';

/** Steps of the default run; sized so the run ends in minutes on a 2-core CPU adapter. */
export const DEFAULT_TASK_STEPS = 1500;

export async function defaultTask(outRoot = 'runs'): Promise<number> {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const out = join(outRoot, `default-${stamp}`);
  const options: RunOptions = {
    data: {
      badRows: 'stop',
      generate: { geometry: SUDOKU_4X4, trainCount: 20000, testCount: 1000, seed: 0, difficulty: 1 },
      heldOutFromData: 1000,
    },
    out,
    configName: 'tiny-mlp',
    config: trmConfig('tiny-mlp'),
    steps: DEFAULT_TASK_STEPS,
    evalEvery: 500,
    evalLimit: 1000,
    logEvery: 25,
    seed: 0,
    augment: true,
  };

  console.log(`default task: train tiny-mlp on generated 4×4 Sudoku for ${DEFAULT_TASK_STEPS} steps, then evaluate on 1000 held-out puzzles (run folder ${out})`);
  const status = await runTraining(options, false);
  if (status !== 0) return status;

  const example = generateSudoku({ seed: 424242, geometry: SUDOKU_4X4, difficulty: 1 });
  console.log(`\nsolving ${formatGrid(example.puzzle)} (answer ${formatGrid(example.answer)}, ${cellCount(SUDOKU_4X4)} cells):`);
  const checkpoint = await loadModelCheckpoint(join(out, 'last.safetensors'));
  for (const line of await solvePuzzle(checkpoint, formatGrid(example.puzzle))) console.log(line);
  console.log(`\nrun folder: ${out} (metrics.jsonl, plot.svg, last.safetensors, best.safetensors)`);
  return 0;
}
