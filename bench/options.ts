// Command-line options of `npm run bench`.
import { parseArgs } from 'node:util';
import type { ProbeSize } from './probes.js';
import type { RuntimeName } from './runtimes.js';
import type { TimingPolicy } from './timing.js';
import type { TrainerSpec } from './trainer.js';

export interface BenchOptions {
  help: boolean;
  runtimes: RuntimeName[];
  batches: number[];
  quick: boolean;
  json: string | null;
  policy: TimingPolicy;
  probeSize: ProbeSize;
  /** The probes are the denominators of every fraction, so the full run times them more often. */
  probePolicy: TimingPolicy;
  /** Matmul products above this many FLOPs skip the tuning pass; null: none skip. */
  tuningFlopsLimit: number | null;
  trainerRuns: TrainerSpec[];
}

export class UsageError extends Error {}

const FULL_POLICY: TimingPolicy = { repeatSeconds: 0.25, minRepeats: 3, maxRepeats: 7, budgetSeconds: 2, maxRunsPerRepeat: 40 };
const QUICK_POLICY: TimingPolicy = { repeatSeconds: 0.02, minRepeats: 1, maxRepeats: 2, budgetSeconds: 0.1, maxRunsPerRepeat: 4 };
const MIB = 1024 * 1024;
const FULL_PROBES: ProbeSize = { fmaWorkgroups: 1024, copyBytes: [1 * MIB, 8 * MIB, 64 * MIB] };
const QUICK_PROBES: ProbeSize = { fmaWorkgroups: 256, copyBytes: [1 * MIB, 8 * MIB] };
// The default run took 11 minutes on a 2-core machine with SwiftShader before the TF.js
// training step existed. That step at paper size and batch 2 added about 12.5 minutes there
// (a warm-up of 7 and a timed step of 5), so without --batch the paper presets' training steps
// run at batch 1, which halves it. On a GPU, pass larger batches.
const DEFAULT_BATCHES = [2];
const DEFAULT_PAPER_TRAINER_BATCH = 1;
/** --quick tunes only products this small (the lm_head ones), so the tuning report is exercised in seconds. */
const QUICK_TUNING_FLOPS = 20e6;
/** One step at a time: a paper-size step takes most of a minute on SwiftShader. */
const SINGLE_RUN: TimingPolicy = { repeatSeconds: 0, minRepeats: 1, maxRepeats: 1, budgetSeconds: 0, maxRunsPerRepeat: 1 };
const TINY_TRAINER_POLICY: TimingPolicy = { repeatSeconds: 1, minRepeats: 2, maxRepeats: 5, budgetSeconds: 6, maxRunsPerRepeat: 10 };
const QUICK_TRAINER_RUNS: TrainerSpec[] = [
  { preset: 'tiny-mlp', batch: 4, policy: SINGLE_RUN, evaluate: true },
  { preset: 'tiny-att', batch: 4, policy: SINGLE_RUN, evaluate: true },
];

/**
 * Lists the paper presets at `paperBatch`, one step each and without evaluation, then the 4×4
 * presets at two batch sizes with evaluation. A paper-size training step at batch 2 took 30 s
 * on a 2-core machine with SwiftShader, and evaluate() runs 16 supervision steps.
 */
function fullTrainerRuns(paperBatch: number): TrainerSpec[] {
  const paper = (['paper-mlp', 'paper-att'] as const).map((preset) => ({ preset, batch: paperBatch, policy: SINGLE_RUN, evaluate: false }));
  const tiny = (['tiny-mlp', 'tiny-att'] as const).flatMap((preset) => [16, 64].map((batch) => ({ preset, batch, policy: TINY_TRAINER_POLICY, evaluate: true })));
  return [...paper, ...tiny];
}

const RUNTIMES: Record<string, RuntimeName[]> = { browser: ['browser'], node: ['node'], both: ['browser', 'node'] };

export const USAGE = `Usage: npm run bench -- [options]

Times the engine's kernels at the TRM shapes, and TensorFlow.js (WebGPU backend) doing the same
work on the same adapter, against the adapter's measured f32 FMA peak and copy bandwidth. Then
times whole training steps and evaluations through TrmTrainer (paper and 4×4 Sudoku presets),
and for the mlp presets the same training step written with TensorFlow.js.

  --runtime browser|node|both  browser: headless Chromium through puppeteer (default);
                               node: this process, on Dawn; both: one after the other
  --batch B[,B...]             puzzles of 97 tokens per batch (default ${DEFAULT_BATCHES.join(',')}; --quick: 1);
                               the paper presets' training steps use the smallest B
                               (default ${DEFAULT_PAPER_TRAINER_BATCH})
  --quick                      a smoke test, not a measurement: batch 1, one or two short
                               repeats per case, the matmul tuning pass only for the
                               lm_head products, and the 4×4 trainer presets only
  --json FILE                  write the results to FILE and the chart next to it (FILE
                               without .json, plus .svg); without it the chart goes to
                               bench-results/
  --help                       print this text`;

export function parseOptions(argv: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        runtime: { type: 'string', default: 'browser' },
        batch: { type: 'string' },
        quick: { type: 'boolean', default: false },
        json: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const quick = values.quick ?? false;
  let batches = quick ? [1] : DEFAULT_BATCHES;
  if (values.batch !== undefined) batches = parseBatches(values.batch);
  return {
    help: values.help ?? false,
    runtimes: parseRuntime(values.runtime ?? 'browser'),
    batches,
    quick,
    json: values.json ?? null,
    policy: quick ? QUICK_POLICY : FULL_POLICY,
    probeSize: quick ? QUICK_PROBES : FULL_PROBES,
    probePolicy: quick ? QUICK_POLICY : { ...FULL_POLICY, minRepeats: 7 },
    tuningFlopsLimit: quick ? QUICK_TUNING_FLOPS : null,
    trainerRuns: quick ? QUICK_TRAINER_RUNS : fullTrainerRuns(values.batch === undefined ? DEFAULT_PAPER_TRAINER_BATCH : Math.min(...batches)),
  };
}

function parseRuntime(value: string): RuntimeName[] {
  const runtimes = RUNTIMES[value];
  if (!Object.hasOwn(RUNTIMES, value) || !runtimes) throw new UsageError(`unknown runtime '${value}'; expected browser, node or both`);
  return runtimes;
}

function parseBatches(value: string): number[] {
  return value.split(',').map((part) => {
    const batch = Number(part.trim());
    if (!/^\d+$/.test(part.trim()) || !Number.isSafeInteger(batch) || batch < 1) {
      throw new UsageError(`--batch takes positive integers separated by commas, got '${value}'`);
    }
    return batch;
  });
}
