// The page side of the browser training runtime. The host page loads this module, and Node
// calls callTraining() through page.evaluate to drive one TrmTrainer on the page's Gpu.
// Arguments and results cross as encodeMessage() trees, so typed arrays and NaN stay exact.
import type { Gpu } from '../gpu/gpu.js';
import { matmulChoices, pinMatmulVariants, type MatmulChoices } from '../kernels/matmul-tuning.js';
import type { TrmConfig } from '../model/config.js';
import type { TrmParameters } from '../model/init.js';
import type { ModelBatch, TrainingBatch } from '../model/gpu/inputs.js';
import type { LoadableState } from '../model/gpu/state.js';
import { TrmTrainer } from '../model/gpu/trainer.js';
import { decodeMessage, encodeMessage } from '../testing/wire.js';

export interface PageTrainerOptions {
  seed: number;
  params?: TrmParameters;
  /** Pinned before the trainer records its first product, so a resumed run rounds as before. */
  matmulChoices?: MatmulChoices;
}

let trainer: TrmTrainer | null = null;

function activeTrainer(method: string): TrmTrainer {
  if (!trainer) throw new Error(`${method}: no trainer in this page; call 'create' first`);
  return trainer;
}

const handlers: Record<string, (gpu: Gpu, ...args: never[]) => Promise<unknown> | unknown> = {
  create: async (gpu: Gpu, config: TrmConfig, options: PageTrainerOptions) => {
    if (trainer) throw new Error("create: this page already has a trainer; call 'dispose' first");
    pinMatmulVariants(gpu, options.matmulChoices ?? {});
    trainer = await TrmTrainer.create(gpu, config, { seed: options.seed, parameters: options.params });
  },
  trainStep: (_gpu: Gpu, batch: TrainingBatch) => activeTrainer('trainStep').trainStep(batch),
  readMetrics: () => activeTrainer('readMetrics').readMetrics(),
  evaluate: (_gpu: Gpu, batch: ModelBatch) => activeTrainer('evaluate').evaluate(batch),
  exportState: async () => {
    // The tensors map repeats params by name, which the Node side does not need.
    const { tensors, ...state } = await activeTrainer('exportState').exportState();
    return state;
  },
  loadState: (_gpu: Gpu, state: LoadableState) => activeTrainer('loadState').loadState(state),
  matmulChoices: (gpu: Gpu) => matmulChoices(gpu),
  dispose: () => {
    trainer?.dispose();
    trainer = null;
  },
};

/** Runs one trainer method named by `method` with encodeMessage()d arguments and returns its encoded result. */
export async function callTraining(gpu: Gpu, method: string, message: unknown): Promise<unknown> {
  const handler = handlers[method];
  if (!handler) throw new Error(`unknown training call '${method}'; known calls: ${Object.keys(handlers).join(', ')}`);
  const args = decodeMessage(message) as never[];
  return encodeMessage(await handler(gpu, ...args));
}
