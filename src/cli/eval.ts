// `trm eval`: scores a checkpoint on Sudoku puzzles with every supervision step and the
// checkpoint's (EMA) weights.
import { parseArgs } from 'node:util';
import { loadModelCheckpoint } from '../model/checkpoint.js';
import { cellCount } from '../data/sudoku.js';
import { readPuzzleSet } from '../train/datasets.js';
import { createEngine, ENGINE_RUNTIMES } from '../train/engine.js';
import { integerOption, choiceOption, UsageError } from './options.js';
import { evaluateSet, percent } from './train.js';

export const EVAL_USAGE = `Usage: trm eval --checkpoint CKPT --data FILE [--limit N] [--batch B] [--runtime node|browser] [--json]

Evaluates a checkpoint over all supervision steps and prints exact accuracy, token accuracy
(and the accuracy of copying the givens), the mean step at which puzzles were first solved,
and halting accuracy.

Options:
  --checkpoint CKPT  A .safetensors model or training checkpoint
  --data FILE        Puzzles with answers (CSV) or a puzzle list (solved for scoring)
  --limit N          Evaluate the first N puzzles
  --batch B          Puzzles per GPU batch (default 256)
  --bad-rows stop|skip
                     What to do with invalid rows (default stop)
  --runtime node|browser
                     Where the kernels run: Dawn in this process (default) or Chromium's
                     WebGPU in a headless page
  --json             Print one JSON object instead of text
  -h, --help         Show this text`;

export async function evalCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      checkpoint: { type: 'string' }, data: { type: 'string' }, limit: { type: 'string' }, batch: { type: 'string' },
      'bad-rows': { type: 'string' }, runtime: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(EVAL_USAGE);
    return 0;
  }
  if (!values.checkpoint) throw new UsageError('missing --checkpoint CKPT');
  if (!values.data) throw new UsageError('missing --data FILE');
  const limit = values.limit === undefined ? undefined : integerOption('limit', values.limit, 0);
  const batch = integerOption('batch', values.batch, 256);
  const runtime = choiceOption('runtime', values.runtime, ENGINE_RUNTIMES, 'node');

  const checkpoint = await loadModelCheckpoint(values.checkpoint);
  const data = await readPuzzleSet(values.data, { limit, badRows: choiceOption('bad-rows', values['bad-rows'], ['stop', 'skip'] as const, 'stop') });
  if (data.note) console.error(`${values.data}: ${data.note.replace(/^, /, '')}`);
  if (cellCount(data.set.geometry) !== checkpoint.config.seqLen) {
    throw new UsageError(`${values.data} has ${cellCount(data.set.geometry)}-cell puzzles but the checkpoint was trained on ${checkpoint.config.seqLen} cells`);
  }

  const engine = await createEngine({ ...checkpoint.config, batch: Math.min(batch, data.set.count) }, { seed: 0, params: checkpoint.params, runtime });
  try {
    const report = await evaluateSet(engine, data.set, data.set.count);
    if (values.json) {
      console.log(JSON.stringify({ checkpoint: values.checkpoint, data: values.data, ...report }));
    } else {
      console.log(`puzzles: ${report.puzzles} (${values.data})`);
      console.log(`exact accuracy: ${percent(report.exactAccuracy)}`);
      console.log(`token accuracy: ${percent(report.tokenAccuracy)} (copying the givens: ${percent(report.copyBaselineTokenAccuracy)}; blank cells: ${percent(report.blankAccuracy)})`);
      console.log(`first solved at step: ${report.meanFirstSolvedStep === null ? 'never' : report.meanFirstSolvedStep.toFixed(2)} on average (${report.solvedAtSomeStep} puzzles solved at some step)`);
      console.log(`halting accuracy: ${percent(report.haltingAccuracy)} (q_halt > 0 exactly when the final answer is right)`);
    }
  } finally {
    await engine.dispose();
  }
  return 0;
}
