// The browser training runtime: a TrainingEngine whose trainer runs in a headless Chromium
// page (page-training.ts) while data, logging and checkpoints stay in this Node process.
import { log } from '../log.js';
import type { MatmulChoices } from '../kernels/matmul-tuning.js';
import type { TrmConfig } from '../model/config.js';
import type { TrainMetrics } from '../model/gpu/metrics.js';
import type { LoadableState, TrainerState } from '../model/gpu/state.js';
import type { Evaluation } from '../model/gpu/trainer.js';
import type { EngineOptions, TrainingEngine } from '../train/engine.js';
import type { TokenBatch } from '../train/sudoku-batches.js';
import type { PageTrainerOptions } from './page-training.js';
import { ChromiumHost } from './chromium.js';

// One call on a CPU adapter (an evaluation batch of a paper config on SwiftShader) can take
// several minutes, well past puppeteer's 180 s default. NOTE: the hour is a guess, not a measured bound.
const CALL_TIMEOUT_MS = 3_600_000;

/**
 * Launches Chromium and creates a trainer in its page; dispose() closes Chromium.
 * NOTE: the bit-exact resume test runs on the node runtime. For this runtime the tests check
 * only that the trainer state survives a round trip through the page bit for bit.
 */
export async function createBrowserEngine(config: TrmConfig, options: EngineOptions): Promise<TrainingEngine> {
  const host = await ChromiumHost.launch({ protocolTimeout: CALL_TIMEOUT_MS, closeOnSigint: false });
  const call = <T>(method: string, ...args: unknown[]) => host.callTraining(method, args) as Promise<T>;
  try {
    const pageOptions: PageTrainerOptions = { seed: options.seed, params: options.params, matmulChoices: options.matmulChoices };
    await call('create', config, pageOptions);
  } catch (error) {
    await host.close();
    throw error;
  }

  return {
    config,
    trainStep: (batch: TokenBatch) => call<void>('trainStep', batch),
    readMetrics: () => call<TrainMetrics>('readMetrics'),
    evaluate: (batch: TokenBatch) => call<Evaluation>('evaluate', batch),
    exportState: () => call<TrainerState>('exportState'),
    loadState: (state: LoadableState) => call<void>('loadState', state),
    matmulChoices: () => call<MatmulChoices>('matmulChoices'),
    dispose: async () => {
      // Closing Chromium frees the device in any case, so a failed page-side dispose (after a
      // lost device, say) is only logged.
      await call('dispose').catch((error: Error) => log(1, `${error.message}; closing Chromium`));
      await host.close();
    },
  };
}
