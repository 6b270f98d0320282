// The training engine the command line drives: the GPU trainer together with the device it
// owns, created in one call and disposed in one call. The kernels run in this process (Dawn)
// or in a headless Chromium page (the browser runtime).
import { createGpu } from '../gpu/device.js';
import { matmulChoices, pinMatmulVariants, type MatmulChoices } from '../kernels/matmul-tuning.js';
import type { TrmConfig } from '../model/config.js';
import type { TrmParameters } from '../model/init.js';
import type { TrainMetrics } from '../model/gpu/metrics.js';
import type { LoadableState, TrainerState } from '../model/gpu/state.js';
import { TrmTrainer, type Evaluation } from '../model/gpu/trainer.js';
import type { TokenBatch } from './sudoku-batches.js';

export type TrainStepMetrics = TrainMetrics;
export type TrainingSnapshot = TrainerState;

/** The runtime of the kernels: 'node' is Dawn in this process, 'browser' Chromium's WebGPU in a headless page. */
export type EngineRuntime = 'node' | 'browser';

export const ENGINE_RUNTIMES: readonly EngineRuntime[] = ['node', 'browser'];

export interface TrainingEngine {
  readonly config: TrmConfig;
  trainStep(batch: TokenBatch): Promise<void>;
  readMetrics(): Promise<TrainStepMetrics>;
  /** Runs every supervision step from a fresh carry on the EMA weights. */
  evaluate(batch: TokenBatch): Promise<Evaluation>;
  exportState(): Promise<TrainingSnapshot>;
  loadState(state: LoadableState): Promise<void>;
  /** The matmul variant of every shape used so far, for the checkpoint. */
  matmulChoices(): Promise<MatmulChoices>;
  dispose(): Promise<void>;
}

export interface EngineOptions {
  /** Seed of the initial parameters and of the halting exploration. */
  seed: number;
  /** Start from these values (a loaded checkpoint) instead of a fresh initialisation. */
  params?: TrmParameters;
  /** Matmul variants to use instead of tuning, such as those a resumed run used before. */
  matmulChoices?: MatmulChoices;
  /** Default 'node'. */
  runtime?: EngineRuntime;
}

/** Creates a device and a trainer on it, in the requested runtime; dispose() destroys both. */
export async function createEngine(config: TrmConfig, options: EngineOptions): Promise<TrainingEngine> {
  if (options.runtime === 'browser') {
    const { createBrowserEngine } = await import('../runtime/browser-engine.js');
    return createBrowserEngine(config, options);
  }
  return createNodeEngine(config, options);
}

async function createNodeEngine(config: TrmConfig, options: EngineOptions): Promise<TrainingEngine> {
  const gpu = await createGpu();
  let trainer: TrmTrainer;
  try {
    pinMatmulVariants(gpu, options.matmulChoices ?? {});
    trainer = await TrmTrainer.create(gpu, config, { seed: options.seed, parameters: options.params });
  } catch (error) {
    gpu.destroy();
    throw error;
  }

  return {
    config,
    trainStep: (batch) => trainer.trainStep(batch),
    readMetrics: () => trainer.readMetrics(),
    evaluate: (batch) => trainer.evaluate(batch),
    exportState: () => trainer.exportState(),
    loadState: (state) => trainer.loadState(state),
    matmulChoices: () => matmulChoices(gpu),
    dispose: async () => {
      trainer.dispose();
      gpu.destroy();
    },
  };
}
