// `trm train`: trains a TRM on Sudoku with progress, metrics.jsonl, an SVG plot, atomic
// checkpoints (last and best), evaluation during training, resume, and a checkpoint on Ctrl-C.
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trmConfig, validateConfig, TRM_CONFIGS, type TrmConfig, type TrmConfigName } from '../model/config.js';
import { cellCount, vocabSize, type SudokuSet } from '../data/sudoku.js';
import { loadRunData, type DataOptions } from '../train/datasets.js';
import { accumulateBatch, emptyTotals, summarize, type EvaluationReport } from '../train/evaluation.js';
import { createEngine, ENGINE_RUNTIMES, type EngineRuntime, type TrainStepMetrics, type TrainingEngine, type TrainingSnapshot } from '../train/engine.js';
import { renderTrainingPlot, type PlotPoint } from '../train/plot.js';
import { evaluationBatches, TrainingBatcher } from '../train/sudoku-batches.js';
import { loadCheckpoint, saveCheckpoint, type SavedRun } from '../train/state.js';
import { choiceOption, geometryOption, integerOption, numberOption, UsageError } from './options.js';

export const TRAIN_USAGE = `Usage: trm train [--data FILE|DIR] [--test FILE] --out RUN_DIR [options]
       trm train --resume RUN_DIR [--steps N] [--runtime node|browser]

Trains a TRM on Sudoku. Without --data it trains on generated puzzles.

Options:
  --task sudoku          The task (only sudoku)
  --data FILE|DIR        Sudoku-Extreme CSV, question,answer CSV, puzzle list, or a reference
                         .npy dataset folder
  --test FILE            Evaluation puzzles; default: the last 10% (at most 1000) of --data
  --out RUN_DIR          Folder for metrics.jsonl, plot.svg, run.json and checkpoints
  --config NAME|FILE     ${Object.keys(TRM_CONFIGS).join(', ')}, or a JSON file of TrmConfig
                         fields (default tiny-mlp); vocab and sequence length follow the data
  --steps N              Optimizer steps to train (default 2000)
  --batch B              Slots per optimizer step (default: the config's batch)
  --lr X                 AdamATan2 learning rate (default: the config's)
  --eval-every N         Evaluate and checkpoint every N steps (default 500)
  --eval-limit N         Puzzles per evaluation during training (default 1000)
  --log-every N          Progress and metrics.jsonl line every N steps (default 10)
  --seed S               Seed of initialisation, data order and augmentation (default 0)
  --augment | --no-augment
                         Relabel digits and permute rows and columns on the fly (default on)
  --bad-rows stop|skip   What to do with invalid rows in --data (default stop)
  --limit N              Read at most N puzzles from --data
  --size 4|6|9           Grid size of generated puzzles (default 4)
  --generate N           Generated training puzzles (default 20000)
  --difficulty X         0 (easiest) to 1 (hardest) for generated puzzles (default 1)
  --runtime node|browser Where the kernels run: 'node' uses Dawn in this process (default),
                         'browser' Chromium's WebGPU in a headless page; data, logs and
                         checkpoints stay in this process either way
  --resume RUN_DIR       Continue a run from its last checkpoint with the same data order,
                         slot state and matmul variants; on the same runtime and adapter the
                         result is bit-identical to an uninterrupted run
  -h, --help             Show this text`;

export interface RunOptions {
  data: DataOptions;
  out: string;
  configName: string;
  config: TrmConfig;
  steps: number;
  evalEvery: number;
  evalLimit: number;
  logEvery: number;
  seed: number;
  augment: boolean;
  /** Absent in the run.json of runs from before the browser runtime, which trained in Node. */
  runtime?: EngineRuntime;
}

interface RunState {
  engine: TrainingEngine;
  batcher: TrainingBatcher;
  options: RunOptions;
  test: SudokuSet;
  /** Optimizer steps taken, counting those before a resume. */
  step: number;
  bestExact: number;
  curves: { loss: PlotPoint[]; trainExact: PlotPoint[]; evalExact: PlotPoint[]; evalToken: PlotPoint[] };
}

export async function trainCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      task: { type: 'string' }, data: { type: 'string' }, test: { type: 'string' }, out: { type: 'string' },
      config: { type: 'string' }, steps: { type: 'string' }, batch: { type: 'string' }, lr: { type: 'string' },
      'eval-every': { type: 'string' }, 'eval-limit': { type: 'string' }, 'log-every': { type: 'string' },
      seed: { type: 'string' }, augment: { type: 'boolean' }, 'no-augment': { type: 'boolean' },
      'bad-rows': { type: 'string' }, limit: { type: 'string' }, size: { type: 'string' }, generate: { type: 'string' },
      difficulty: { type: 'string' }, runtime: { type: 'string' }, resume: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(TRAIN_USAGE);
    return 0;
  }
  choiceOption('task', values.task, ['sudoku'], 'sudoku');
  const runtime = values.runtime === undefined ? undefined : choiceOption('runtime', values.runtime, ENGINE_RUNTIMES, 'node');

  if (values.resume) {
    const allowed = ['resume', 'steps', 'runtime'];
    const extra = Object.keys(values).filter((name) => values[name as keyof typeof values] !== undefined && !allowed.includes(name));
    if (extra.length > 0) throw new UsageError(`--resume takes only --steps and --runtime; the run keeps the options in its run.json (got --${extra.join(', --')})`);
    return runTraining(await resumedOptions(values.resume, values.steps, runtime), true);
  }
  return runTraining(await freshOptions(values), false);
}

type TrainValues = Record<string, string | boolean | undefined>;

async function freshOptions(values: TrainValues): Promise<RunOptions> {
  const text = (name: string) => values[name] as string | undefined;
  if (!text('out')) throw new UsageError('missing --out RUN_DIR: the folder for checkpoints and metrics');
  if (existsSync(join(text('out') as string, 'run.json'))) {
    throw new UsageError(`${text('out')} already contains a run; continue it with --resume ${text('out')} or choose another --out`);
  }

  const configName = text('config') ?? 'tiny-mlp';
  const base = await baseConfig(configName);
  const geometry = geometryOption(text('size'));
  const data: DataOptions = {
    data: text('data'),
    test: text('test'),
    badRows: choiceOption('bad-rows', text('bad-rows'), ['stop', 'skip'], 'stop'),
    limit: text('limit') === undefined ? undefined : integerOption('limit', text('limit'), 0),
    generate: {
      geometry,
      trainCount: integerOption('generate', text('generate'), 20000),
      testCount: 1000,
      seed: integerOption('seed', text('seed'), 0, 0),
      difficulty: numberOption('difficulty', text('difficulty'), 1, 0, 1),
    },
    heldOutFromData: 1000,
  };
  const config: TrmConfig = {
    ...base,
    batch: integerOption('batch', text('batch'), base.batch),
    lr: numberOption('lr', text('lr'), base.lr, 0, 1),
  };

  return {
    data,
    out: text('out') as string,
    configName,
    config,
    steps: integerOption('steps', text('steps'), 2000),
    evalEvery: integerOption('eval-every', text('eval-every'), 500),
    evalLimit: integerOption('eval-limit', text('eval-limit'), 1000),
    logEvery: integerOption('log-every', text('log-every'), 10),
    seed: data.generate.seed,
    augment: !values['no-augment'],
    runtime: choiceOption('runtime', text('runtime'), ENGINE_RUNTIMES, 'node'),
  };
}

async function baseConfig(name: string): Promise<TrmConfig> {
  if (name in TRM_CONFIGS) return trmConfig(name as TrmConfigName);
  if (!name.endsWith('.json')) throw new UsageError(`unknown --config '${name}': expected ${Object.keys(TRM_CONFIGS).join(', ')} or a .json file`);

  let fields: Partial<TrmConfig>;
  try {
    fields = JSON.parse(await readFile(name, 'utf8')) as Partial<TrmConfig>;
  } catch (cause) {
    throw new UsageError(`--config ${name} cannot be read as JSON: ${(cause as Error).message}`);
  }
  const config = { ...TRM_CONFIGS['tiny-mlp'], ...fields } as TrmConfig;
  validateConfig(config);
  return config;
}

async function resumedOptions(runDir: string, steps: string | undefined, runtime: EngineRuntime | undefined): Promise<RunOptions> {
  const path = join(runDir, 'run.json');
  let options: RunOptions;
  try {
    options = JSON.parse(await readFile(path, 'utf8')) as RunOptions;
  } catch (cause) {
    throw new UsageError(`cannot resume ${runDir}: ${path} is missing or invalid (${(cause as Error).message})`);
  }
  return { ...options, out: runDir, steps: integerOption('steps', steps, options.steps), runtime: runtime ?? options.runtime ?? 'node' };
}

/** Fits vocab and sequence length to the data, then checks the config against it. */
function fitConfigToData(config: TrmConfig, train: SudokuSet): TrmConfig {
  const fitted = { ...config, vocab: vocabSize(train.geometry), seqLen: cellCount(train.geometry), numPuzzleIds: 1 };
  validateConfig(fitted);
  return fitted;
}

/** Runs the training loop; also the first half of the built-in default task. */
export async function runTraining(options: RunOptions, resume: boolean): Promise<number> {
  await mkdir(options.out, { recursive: true });
  const { train, test, description } = await loadRunData(options.data);
  const config = fitConfigToData(options.config, train);
  const run = { ...options, config };
  for (const line of description) console.log(line);

  const saved = resume ? await loadResumePoint(run) : null;
  // A resume reuses the matmul variants of the run it continues, so its products round exactly
  // as they would have. NOTE: a fresh run times the variants itself, so two fresh runs with the
  // same seed may still round differently.
  const engine = await createEngine(config, { seed: options.seed, runtime: options.runtime ?? 'node', matmulChoices: saved?.matmulChoices });
  const state: RunState = {
    engine, options: run, test, step: 0, bestExact: -1,
    batcher: new TrainingBatcher(train, config.batch, options.seed, options.augment),
    curves: { loss: [], trainExact: [], evalExact: [], evalToken: [] },
  };

  try {
    if (saved) await restore(state, train, saved);
    await writeFile(join(options.out, 'run.json'), JSON.stringify(run, null, 2));
    return await loop(state);
  } finally {
    await engine.dispose();
  }
}

/** Reads the run's last checkpoint and checks that --steps leaves steps to train. */
async function loadResumePoint(options: RunOptions): Promise<SavedRun> {
  const saved = await loadCheckpoint(join(options.out, 'last.safetensors'));
  const step = saved.snapshot.step;
  if (step >= options.steps) throw new UsageError(`${options.out} is already at step ${step}; pass --steps above ${step} to train further`);
  return saved;
}

async function restore(state: RunState, train: SudokuSet, saved: SavedRun): Promise<void> {
  if (!saved.snapshot.slots) console.log('the checkpoint has no slot state because an older version wrote it, so every slot starts a new puzzle and the run is not bit-identical to an uninterrupted one');
  await state.engine.loadState(saved.snapshot);
  state.step = saved.snapshot.step;
  state.batcher = new TrainingBatcher(train, state.options.config.batch, state.options.seed, state.options.augment, saved.batcher);
  await reloadCurves(state);
  console.log(`resumed ${state.options.out} at step ${state.step}`);
}

async function loop(state: RunState): Promise<number> {
  const { engine, options } = state;
  const lastPath = join(options.out, 'last.safetensors');
  let stopRequested = false;
  const onInterrupt = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    console.error('\ninterrupted: saving a checkpoint after this step (Ctrl-C again to quit without saving)');
  };
  process.on('SIGINT', onInterrupt);

  const startStep = state.step;
  const started = performance.now();
  let savedStep = -1;
  try {
    while (state.step < options.steps && !stopRequested) {
      await engine.trainStep(state.batcher.next());
      state.step++;

      if (state.step % options.logEvery === 0 || state.step === options.steps) {
        const metrics = await engine.readMetrics();
        await logTrainingStep(state, metrics, (performance.now() - started) / 1000, state.step - startStep);
      }
      if (state.step % options.evalEvery === 0 || state.step === options.steps) {
        await evaluateAndCheckpoint(state);
        savedStep = state.step;
      }
    }

    if (savedStep !== state.step) {
      await engine.readMetrics();
      await saveRunCheckpoint(state, lastPath, await engine.exportState());
      console.log(`checkpoint: ${lastPath} (step ${state.step})`);
    }
  } catch (error) {
    console.error(`\ntraining stopped at step ${state.step}: ${(error as Error).message}`);
    console.error(existsSync(lastPath) ? `the last good checkpoint is kept: ${lastPath}` : 'no checkpoint was written');
    return 1;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  return stopRequested ? 130 : 0;
}

async function logTrainingStep(state: RunState, metrics: TrainStepMetrics, seconds: number, stepsThisRun: number): Promise<void> {
  const { options } = state;
  const rate = stepsThisRun / Math.max(seconds, 1e-9);
  const eta = (options.steps - state.step) / Math.max(rate, 1e-9);
  console.log(
    `step ${state.step}/${options.steps}  loss ${metrics.loss.toFixed(4)}  token ${percent(metrics.tokenAccuracy)}  exact ${percent(metrics.exactAccuracy)}  ` +
      `${rate.toFixed(2)} steps/s  ETA ${formatDuration(eta)}`,
  );

  state.curves.loss.push({ step: state.step, value: metrics.loss });
  state.curves.trainExact.push({ step: state.step, value: metrics.exactAccuracy });
  // The per-slot arrays stay out of the log: one line per logged step is enough to plot.
  const { slots, ...summary } = metrics;
  await appendMetrics(options.out, { kind: 'train', ...summary, step: state.step, stepsPerSecond: rate });
  await writePlot(state);
}

async function evaluateAndCheckpoint(state: RunState): Promise<void> {
  const { engine, options } = state;
  const report = await evaluateSet(engine, state.test, options.evalLimit);
  console.log(
    `eval step ${state.step}: exact ${percent(report.exactAccuracy)}  token ${percent(report.tokenAccuracy)} ` +
      `(copying the givens: ${percent(report.copyBaselineTokenAccuracy)})  on ${report.puzzles} puzzles`,
  );
  state.curves.evalExact.push({ step: state.step, value: report.exactAccuracy });
  state.curves.evalToken.push({ step: state.step, value: report.tokenAccuracy });
  await appendMetrics(options.out, { kind: 'eval', step: state.step, ...report });
  await writePlot(state);

  const snapshot = await engine.exportState();
  await saveRunCheckpoint(state, join(options.out, 'last.safetensors'), snapshot);
  if (report.exactAccuracy > state.bestExact) {
    state.bestExact = report.exactAccuracy;
    await saveRunCheckpoint(state, join(options.out, 'best.safetensors'), snapshot);
  }
}

async function saveRunCheckpoint(state: RunState, path: string, snapshot: TrainingSnapshot): Promise<void> {
  await saveCheckpoint(path, state.options.config, snapshot, state.batcher.position, await state.engine.matmulChoices());
}

/** Evaluates the first `limit` puzzles of a set with every supervision step. */
export async function evaluateSet(engine: TrainingEngine, set: SudokuSet, limit: number): Promise<EvaluationReport> {
  const totals = emptyTotals();
  for (const batch of evaluationBatches(set, engine.config.batch, limit)) {
    accumulateBatch(totals, batch, await engine.evaluate(batch));
  }
  return summarize(totals);
}

async function appendMetrics(out: string, record: Record<string, unknown>): Promise<void> {
  await appendFile(join(out, 'metrics.jsonl'), `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
}

async function writePlot(state: RunState): Promise<void> {
  const { curves, options } = state;
  const svg = renderTrainingPlot(`${options.configName} on ${options.data.data ?? 'generated puzzles'}`, [{ label: 'training loss', color: '#c0392b', points: curves.loss }], [
    { label: 'exact (training batch)', color: '#7f8c8d', points: curves.trainExact },
    { label: 'exact (evaluation)', color: '#2471a3', points: curves.evalExact, dots: true },
    { label: 'token (evaluation)', color: '#27ae60', points: curves.evalToken, dots: true },
  ]);
  await writeFile(join(options.out, 'plot.svg'), svg);
}

/**
 * Rebuilds the plot's curves from metrics.jsonl after a resume, and drops the records that an
 * interrupted run wrote after its last checkpoint, since those steps run again.
 */
async function reloadCurves(state: RunState): Promise<void> {
  const path = join(state.options.out, 'metrics.jsonl');
  const text = await readFile(path, 'utf8').catch(() => '');
  const kept: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const record = JSON.parse(line) as { kind: string; step: number; loss?: number; exactAccuracy: number; tokenAccuracy: number };
    if (record.step > state.step) continue;
    kept.push(line);
    if (record.kind === 'train') {
      state.curves.loss.push({ step: record.step, value: record.loss ?? Number.NaN });
      state.curves.trainExact.push({ step: record.step, value: record.exactAccuracy });
    } else if (record.kind === 'eval') {
      state.curves.evalExact.push({ step: record.step, value: record.exactAccuracy });
      state.curves.evalToken.push({ step: record.step, value: record.tokenAccuracy });
      state.bestExact = Math.max(state.bestExact, record.exactAccuracy);
    }
  }
  await writeFile(path, kept.map((line) => `${line}\n`).join(''));
}

export function percent(value: number): string {
  return `${(100 * value).toFixed(1)}%`;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const whole = Math.round(seconds);
  const minutes = Math.floor(whole / 60);
  return minutes > 0 ? `${minutes}m${(whole % 60).toString().padStart(2, '0')}s` : `${whole}s`;
}
