// `trm trace`: runs K supervision steps on one fixed batch and writes, per step, the logits,
// losses, gradients before the update, and parameters and EMA after it, for parity checks
// against another implementation and for studying the autograd.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createGpu } from '../gpu/device.js';
import { parseSafetensors, writeFileAtomic, serializeSafetensors, type WritableTensor } from '../io/safetensors.js';
import { loadModelCheckpoint } from '../model/checkpoint.js';
import { TrmTrainer } from '../model/gpu/trainer.js';
import { namedTensors } from '../model/gpu/state.js';
import { PUZZLE_EMBEDDING } from '../model/parameters.js';
import { integerOption, UsageError } from './options.js';

export const TRACE_USAGE = `Usage: trm trace --checkpoint CKPT --batch BATCH.safetensors --out TRACE.safetensors [--steps K]

Loads a model and runs K supervision steps (default 1) from the initial carry on one batch,
with halting exploration off, training as usual. BATCH holds 'inputs' [B, S] int32,
'labels' [B, S] int32 (-100 = ignore) and 'puzzle_identifiers' [B] int32. For each step k
(1-based) TRACE gets:
  step{k}.logits [B, S, V], step{k}.q_halt_logits [B],
  step{k}.lm_loss, step{k}.q_halt_loss, step{k}.loss (scalars as [1]; the lm and q_halt
    losses are sums over the batch, loss = (lm + 0.5·q_halt) / B),
  step{k}.grad.<name> for every trained tensor (the gradient of loss before the update),
  step{k}.param.<name> and step{k}.ema.<name> after the update.

Options:
  --checkpoint CKPT  A .safetensors model or training checkpoint (its model weights are used)
  --batch FILE       The batch, as above
  --out FILE         Where to write the trace (replaced atomically)
  --steps K          Supervision steps to run (default 1)
  -h, --help         Show this text`;

interface TraceBatch {
  inputs: Int32Array;
  labels: Int32Array;
  puzzleIds: Int32Array;
}

export async function traceCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { checkpoint: { type: 'string' }, batch: { type: 'string' }, out: { type: 'string' }, steps: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(TRACE_USAGE);
    return 0;
  }
  for (const name of ['checkpoint', 'batch', 'out'] as const) if (!values[name]) throw new UsageError(`missing --${name}`);
  const steps = integerOption('steps', values.steps, 1);

  const checkpoint = await loadModelCheckpoint(values.checkpoint as string);
  const batch = await readBatch(values.batch as string, checkpoint.config.seqLen);
  const config = { ...checkpoint.config, batch: batch.puzzleIds.length };

  const gpu = await createGpu();
  const trainer = await TrmTrainer.create(gpu, config, { parameters: checkpoint.params, explorationSeed: null });
  try {
    const tensors = new Map<string, WritableTensor>();
    for (let step = 1; step <= steps; step++) {
      await trainer.trainStep(batch);
      await addStep(tensors, trainer, step, batch);
    }
    await writeFileAtomic(values.out as string, serializeSafetensors(tensors, { steps: String(steps), checkpoint: values.checkpoint as string }));
    console.log(`trace: ${steps} steps, ${tensors.size} tensors → ${values.out}`);
  } finally {
    trainer.dispose();
    gpu.destroy();
  }
  return 0;
}

async function addStep(tensors: Map<string, WritableTensor>, trainer: TrmTrainer, step: number, batch: TraceBatch): Promise<void> {
  const { config } = trainer;
  const B = batch.puzzleIds.length;
  const metrics = await trainer.readMetrics();
  const scalar = (value: number): WritableTensor => ({ shape: [1], data: Float32Array.of(value) });

  tensors.set(`step${step}.logits`, { shape: [B, config.seqLen, config.vocab], data: await trainer.readLogits() });
  tensors.set(`step${step}.q_halt_logits`, { shape: [B], data: metrics.slots.qHalt.slice() });
  tensors.set(`step${step}.lm_loss`, scalar(metrics.lmLoss));
  tensors.set(`step${step}.q_halt_loss`, scalar(metrics.qHaltLoss));
  tensors.set(`step${step}.loss`, scalar(metrics.loss));

  const { grads, dPuzzleEmb } = await trainer.readGradients();
  const state = await trainer.exportState();
  const layout = trainer.layout;
  const shapes = new Map(layout.tensors.map((slot) => [slot.name, slot.shape]));
  const shapeOf = (name: string): number[] => shapes.get(name)?.slice() ?? (name === PUZZLE_EMBEDDING ? [config.numPuzzleIds, config.hidden] : [config.hidden]);
  for (const [name, values] of namedTensors(layout, state.params, grads)) {
    if (shapes.has(name)) tensors.set(`step${step}.grad.${name}`, { shape: shapeOf(name), data: values });
  }
  tensors.set(`step${step}.grad.${PUZZLE_EMBEDDING}`, { shape: [config.numPuzzleIds, config.hidden], data: puzzleTableGradient(dPuzzleEmb, batch.puzzleIds, config.numPuzzleIds, config.hidden) });

  for (const [name, values] of namedTensors(layout, state.params)) {
    tensors.set(`step${step}.param.${name}`, { shape: shapeOf(name), data: values });
  }
  for (const [name, values] of namedTensors(layout, state.params, state.ema)) {
    if (shapes.has(name)) tensors.set(`step${step}.ema.${name}`, { shape: shapeOf(name), data: values });
  }
}

/** Sums each sample's puzzle-row gradient into its table row, as the sparse optimizer does. */
function puzzleTableGradient(perSample: Float32Array, ids: Int32Array, rows: number, hidden: number): Float32Array {
  const table = new Float32Array(rows * hidden);
  ids.forEach((id, sample) => {
    for (let c = 0; c < hidden; c++) table[id * hidden + c] += perSample[sample * hidden + c];
  });
  return table;
}

async function readBatch(path: string, seqLen: number): Promise<TraceBatch> {
  let contents;
  try {
    contents = parseSafetensors(await readFile(path), path);
  } catch (cause) {
    throw new UsageError(`invalid batch file ${path}: ${(cause as Error).message}`);
  }
  const get = (name: string, rank: number): Int32Array => {
    const tensor = contents.tensors.get(name);
    if (!tensor) throw new UsageError(`batch file ${path}: tensor '${name}' is missing`);
    if (!(tensor.data instanceof Int32Array) || tensor.shape.length !== rank) {
      throw new UsageError(`batch file ${path}: tensor '${name}' must be int32 of rank ${rank}, got ${tensor.dtype} [${tensor.shape.join(', ')}]`);
    }
    if (rank === 2 && tensor.shape[1] !== seqLen) throw new UsageError(`batch file ${path}: '${name}' has sequences of ${tensor.shape[1]} tokens, the model expects ${seqLen}`);
    return tensor.data;
  };
  const batch = { inputs: get('inputs', 2), labels: get('labels', 2), puzzleIds: get('puzzle_identifiers', 1) };
  if (batch.inputs.length !== batch.puzzleIds.length * seqLen || batch.labels.length !== batch.inputs.length) {
    throw new UsageError(`batch file ${path}: inputs, labels and puzzle_identifiers disagree on the batch size`);
  }
  return batch;
}
