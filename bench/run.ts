// Kernel benchmark: `npm run bench -- [--runtime browser|node|both] [--batch B,...] [--quick] [--json FILE]`.
// Per runtime: the adapter, the measured FMA peak and copy bandwidth, every kernel at the TRM
// shapes with its fraction of those, and ours against TensorFlow.js on the same adapter.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { trmConfig } from '../src/model/config.js';
import { renderChart } from './chart.js';
import { USAGE, UsageError, parseOptions, type BenchOptions } from './options.js';
import { compare, formatComparisons, formatHeader, formatKernelRow, formatPeerFailures, formatProbes, formatStepComparisons, formatTrainer, kernelTableHeader, ms, type BenchReport, type RuntimeReport, type TrainerEntry } from './report.js';
import { openRuntime, type BenchRuntime, type RuntimeName } from './runtimes.js';
import { trmDims } from './shapes.js';
import { listCases, type CaseResult } from './suite.js';
import type { PeerTrainerResult } from './tfjs-trainer.js';
import type { TrainerResult, TrainerSpec } from './trainer.js';

/** Folder of the charts written when --json names no file; it belongs in .gitignore. */
const RESULTS_FOLDER = 'bench-results';

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const started = performance.now();
  const report: BenchReport = { date: new Date().toISOString(), quick: options.quick, policy: options.policy, runtimes: [] };
  for (const name of options.runtimes) {
    const runtimeReport = await benchRuntime(name, options);
    report.runtimes.push(runtimeReport);
    printRuntime(runtimeReport);
  }
  writeOutputs(report, options);
  console.log(`\nbench finished in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  const failedCases = report.runtimes.flatMap((runtime) => runtime.results).filter((result) => result.side === 'ours' && !result.timing);
  // The peer's training step is this repository's code, so its failure (a NaN loss, say) counts too.
  const failedTrainers = report.runtimes.flatMap((runtime) => runtime.trainer).filter((result) => result.error || result.peer?.error);
  return failedCases.length + failedTrainers.length ? 1 : 0;
}

async function benchRuntime(name: RuntimeName, options: BenchOptions): Promise<RuntimeReport> {
  const started = performance.now();
  const loadStart = loadavg();
  const runtime = await openRuntime(name);
  try {
    const peer = await runtime.preparePeer();
    const header = { runtime: name, platform: runtime.platform, adapter: runtime.adapter, peer, cpus: cpus().length, loadAverage: { start: loadStart, end: [] }, batches: options.batches };
    console.log(formatHeader(header).join('\n'));
    const start = await runtime.probes(options.probeSize, options.probePolicy);
    progress(formatProbes('probes at start', start));
    const results: CaseResult[] = [];
    for (const batch of options.batches) results.push(...(await benchBatch(runtime, batch, options, peer !== null)));
    const end = await runtime.probes(options.probeSize, options.probePolicy);
    progress(formatProbes('probes at end', end));
    const trainer = await benchTrainer(runtime, options, peer !== null);
    const loadAverage = { start: loadStart, end: loadavg() };
    return { ...header, loadAverage, probes: { start, end }, results, trainer, seconds: (performance.now() - started) / 1000 };
  } finally {
    await runtime.close();
  }
}

/**
 * Runs every case at one batch. A case with a TF.js counterpart has it run right after, so
 * that changes in the machine's load hit both sides alike.
 */
async function benchBatch(runtime: BenchRuntime, batch: number, options: BenchOptions, withPeer: boolean): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const entry of listCases(batch)) {
    const ours = await runtime.run({ name: entry.name, batch, side: 'ours', policy: options.policy, tuningFlopsLimit: options.tuningFlopsLimit ?? undefined });
    results.push(ours);
    progress(describeProgress(ours));
    if (!entry.hasPeer || !withPeer) continue;
    const peer = await runtime.run({ name: entry.name, batch, side: 'peer', policy: options.policy, work: ours.work });
    results.push(peer);
    progress(describeProgress(peer));
  }
  return results;
}

/** Runs each trainer spec, and for the mlp presets the TF.js peer's step right after it. */
async function benchTrainer(runtime: BenchRuntime, options: BenchOptions, withPeer: boolean): Promise<TrainerEntry[]> {
  const results: TrainerEntry[] = [];
  for (const spec of options.trainerRuns) {
    const ours = await runtime.trainer(spec);
    progress(`  trainer ${spec.preset} at batch ${spec.batch}: ${describeStep(ours)}`);
    const peer = withPeer && hasPeerStep(spec) ? await runtime.peerTrainer(spec) : null;
    if (peer) progress(`  trainer ${spec.preset} at batch ${spec.batch} (peer): ${describeStep(peer)}`);
    results.push({ ...ours, peer, stepRatio: stepRatio(ours, peer) });
  }
  return results;
}

/** Returns whether the spec has a TF.js peer step, which exists for the mlp variant only. */
function hasPeerStep(spec: TrainerSpec): boolean {
  return trmConfig(spec.preset).variant === 'mlp';
}

function stepRatio(ours: TrainerResult, peer: PeerTrainerResult | null): number | null {
  return ours.step && peer?.step ? ours.step.wallSeconds / peer.step.wallSeconds : null;
}

function describeStep(result: TrainerResult | PeerTrainerResult): string {
  return result.step ? `${ms(result.step.seconds)} ms per step` : `failed: ${result.error}`;
}

function describeProgress(result: CaseResult): string {
  const side = result.side === 'ours' ? '' : ' (peer)';
  if (!result.timing) return `  ${result.name}${side} at batch ${result.batch}: failed: ${result.error}`;
  return `  ${result.name}${side} at batch ${result.batch}: ${ms(result.timing.seconds)} ms (${result.timing.method})`;
}

function printRuntime(report: RuntimeReport): void {
  const lines = [formatProbes('\nprobes at start', report.probes.start), formatProbes('probes at end', report.probes.end)];
  lines.push('"peak now": the FMA peak (GFLOP/s; matmul, attention) or copy bandwidth (GB/s; the rest) probed right before each kernel');
  for (const batch of report.batches) {
    const results = report.results.filter((result) => result.batch === batch);
    lines.push(...kernelTableHeader(batch, trmDims(batch).tokens));
    lines.push(...results.filter((result) => result.side === 'ours').map(formatKernelRow));
    lines.push(...formatComparisons(compare(results), report.peer, batch), ...formatPeerFailures(results));
  }
  lines.push(...formatTrainer(report.trainer), ...formatStepComparisons(report.trainer, report.peer));
  lines.push(`\nload average at end: ${report.loadAverage.end.map((value) => value.toFixed(2)).join(' ')}; ${report.runtime} took ${report.seconds.toFixed(0)} s`);
  console.log(lines.join('\n'));
}

function writeOutputs(report: BenchReport, options: BenchOptions): void {
  const chartPath = options.json ? options.json.replace(/\.json$/i, '') + '.svg' : join(RESULTS_FOLDER, `bench-${report.date.replace(/[:.]/g, '-')}.svg`);
  if (options.json) {
    mkdirSync(dirname(options.json), { recursive: true });
    writeFileSync(options.json, JSON.stringify(report, null, 2) + '\n');
    console.log(`results: ${options.json}`);
  }
  mkdirSync(dirname(chartPath), { recursive: true });
  writeFileSync(chartPath, renderChart(report));
  console.log(`chart: ${chartPath}`);
}

/** Progress goes to stderr, so stdout holds only the tables. */
function progress(line: string): void {
  console.error(line);
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    if (error instanceof UsageError) {
      console.error(`bench: ${error.message} (npm run bench -- --help lists the options)`);
      process.exit(2);
    }
    console.error(`bench: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);
