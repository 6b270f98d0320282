// What the command line needs from a training engine: one interface over the GPU trainer, so
// the run loop, checkpoints and evaluation do not depend on how the model is recorded.
import type { TrmConfig } from '../model/config.js';
import type { TrmParameters } from '../model/init.js';
import type { StepPredictions } from './evaluation.js';
import type { TokenBatch } from './sudoku-batches.js';

export interface TrainStepMetrics {
  /** Optimizer steps taken so far (1 after the first trainStep). */
  step: number;
  lmLoss: number;
  qHaltLoss: number;
  loss: number;
  /** Over all slots of the last step. */
  tokenAccuracy: number;
  exactAccuracy: number;
  /** Mean supervision step count of the slots that halted at the last step, or NaN when none did. */
  meanHaltSteps: number;
}

/** Everything a run needs to continue exactly where it stopped. */
export interface TrainingSnapshot {
  step: number;
  /** Raw trained values (dense flat, puzzle embedding, H_init, L_init). */
  params: TrmParameters;
  /** [layout.length] EMA shadow of the dense parameters: the weights evaluation uses. */
  ema: Float32Array;
  /** [layout.length] AdamATan2 moments. */
  adamM: Float32Array;
  adamV: Float32Array;
}

export interface TrainingEngine {
  readonly config: TrmConfig;
  trainStep(batch: TokenBatch): Promise<void>;
  readMetrics(): Promise<TrainStepMetrics>;
  /** Runs every supervision step from a fresh carry with the EMA weights. */
  evaluate(batch: TokenBatch): Promise<StepPredictions>;
  exportState(): Promise<TrainingSnapshot>;
  loadState(snapshot: TrainingSnapshot): Promise<void>;
  dispose(): void;
}
