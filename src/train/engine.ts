// The training engine the command line drives: the GPU trainer together with the device it
// owns, created in one call and disposed in one call.
import { createGpu } from '../gpu/device.js';
import type { Gpu } from '../gpu/gpu.js';
import type { TrmConfig } from '../model/config.js';
import type { TrmParameters } from '../model/init.js';
import type { TrainMetrics } from '../model/gpu/metrics.js';
import type { TrainerState } from '../model/gpu/state.js';
import { TrmTrainer, type Evaluation } from '../model/gpu/trainer.js';
import type { TokenBatch } from './sudoku-batches.js';

export type TrainStepMetrics = TrainMetrics;
export type TrainingSnapshot = TrainerState;

export interface TrainingEngine {
  readonly config: TrmConfig;
  readonly gpu: Gpu;
  trainStep(batch: TokenBatch): Promise<void>;
  readMetrics(): Promise<TrainStepMetrics>;
  /** Runs every supervision step from a fresh carry on the EMA weights. */
  evaluate(batch: TokenBatch): Promise<Evaluation>;
  exportState(): Promise<TrainingSnapshot>;
  loadState(snapshot: TrainingSnapshot): Promise<void>;
  dispose(): void;
}

export interface EngineOptions {
  /** Seed of the initial parameters and of the halting exploration. */
  seed: number;
  /** Start from these values (a loaded checkpoint) instead of a fresh initialisation. */
  params?: TrmParameters;
}

/** Creates a device and a trainer on it; dispose() destroys both. */
export async function createEngine(config: TrmConfig, options: EngineOptions): Promise<TrainingEngine> {
  const gpu = await createGpu();
  let trainer: TrmTrainer;
  try {
    trainer = await TrmTrainer.create(gpu, config, { seed: options.seed, parameters: options.params });
  } catch (error) {
    gpu.destroy();
    throw error;
  }

  return {
    config,
    gpu,
    trainStep: (batch) => trainer.trainStep(batch),
    readMetrics: () => trainer.readMetrics(),
    evaluate: (batch) => trainer.evaluate(batch),
    exportState: () => trainer.exportState(),
    loadState: (snapshot) => trainer.loadState(snapshot),
    dispose: () => {
      trainer.dispose();
      gpu.destroy();
    },
  };
}
