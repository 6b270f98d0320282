// TRM model and training configuration: named presets, derived sizes and validation.
//
// Field names follow the TRM paper (Jolicoeur-Martineau, "Less is More: Recursive Reasoning
// with Tiny Networks", 2025). Where the authors' code (SamsungSAILMontreal/TinyRecursiveModels)
// names a field differently, its name is given too (L_cycles, H_cycles, halt_max_steps, L_layers).

export type TrmVariant = 'mlp' | 'att';
export type TrmLossType = 'stablemax' | 'softmax';

export interface TrmConfig {
  /**
   * 'mlp': each block mixes tokens with a SwiGLU along the sequence axis, and the model has
   * no position encoding. 'att': each block mixes tokens with non-causal self-attention
   * and RoPE.
   */
  variant: TrmVariant;
  hidden: number;
  /** Attention heads. The mlp variant has no attention and ignores heads and headDim. */
  heads: number;
  headDim: number;
  /** SwiGLU expansion factor, applied before the 2/3 factor and the rounding up to swigluMultiple. */
  expansion: number;
  /**
   * SwiGLU inner widths are rounded up to a multiple of this: 256 in the reference. Tiny
   * models use a smaller one, since rounding 43 up to 256 would make them several times slower.
   */
  swigluMultiple: number;
  /** Blocks in the one shared network (L_layers). */
  blocks: number;
  /** n: latent updates z ← net(z, y + x) per recursion (L_cycles). */
  latentSteps: number;
  /** T: recursions per supervision step; only the last one is differentiated (H_cycles). */
  recursions: number;
  /** Supervision steps after which a sample always halts (halt_max_steps). */
  maxSupervisionSteps: number;
  /** Per slot and step, the probability of drawing a minimum step count in {2, …, max}. */
  haltExplorationProb: number;
  vocab: number;
  /** Grid tokens per sample, without the puzzle-embedding prefix. */
  seqLen: number;
  /** Prefix positions before the grid. Slot 0 contains the puzzle embedding, the others are zero. */
  puzzleEmbSlots: number;
  numPuzzleIds: number;
  lossType: TrmLossType;
  rmsEps: number;
  ropeBase: number;

  /** AdamATan2 base learning rate, reached at the end of the warmup. */
  lr: number;
  beta1: number;
  beta2: number;
  /** Decoupled weight decay: p ← p·(1 − lr·weightDecay) before each update. */
  weightDecay: number;
  /** SignSGD base learning rate of the puzzle-embedding table. */
  puzzleEmbLr: number;
  puzzleEmbWeightDecay: number;
  /** Linear warmup length in optimizer steps; the learning rate is constant afterwards. */
  warmupSteps: number;
  /** EMA shadow ← (1 − emaRate)·param + emaRate·shadow after every optimizer step. */
  emaRate: number;
  /** Training slots per optimizer step (global batch size). */
  batch: number;
}

/** Sizes that follow from a config. */
export interface TrmSizes {
  /** Prefix slots plus grid tokens: the sequence length of every block's input. */
  totalSeqLen: number;
  /** Inner width of the channel-mixing SwiGLU. */
  inner: number;
  /** Inner width of the token-mixing SwiGLU of the mlp variant; 0 for the att variant. */
  tokenInner: number;
}

const PAPER_SUDOKU: TrmConfig = {
  variant: 'mlp',
  hidden: 512,
  heads: 8,
  headDim: 64,
  expansion: 4,
  swigluMultiple: 256,
  blocks: 2,
  latentSteps: 6,
  recursions: 3,
  maxSupervisionSteps: 16,
  haltExplorationProb: 0.1,
  vocab: 11,
  seqLen: 81,
  puzzleEmbSlots: 16,
  numPuzzleIds: 1,
  lossType: 'stablemax',
  rmsEps: 1e-5,
  ropeBase: 10000,
  lr: 1e-4,
  beta1: 0.9,
  beta2: 0.95,
  weightDecay: 1.0,
  puzzleEmbLr: 1e-4,
  puzzleEmbWeightDecay: 1.0,
  warmupSteps: 2000,
  emaRate: 0.999,
  batch: 768,
};

// 4×4 Sudoku: 16 cells, tokens 0 = PAD, 1 = blank, 2…5 = digits 1…4. For 6×6 Sudoku pass
// { seqLen: 36, vocab: 8 }. Compared with paper-mlp these presets are narrower (hidden 32,
// SwiGLU expansion 2, widths rounded to 16) and recurse less (n 2, T 2, 4 prefix slots, 8
// supervision steps instead of 16). They use a higher learning rate for batch 32, so a run
// finishes in minutes on a CPU adapter. Measured on a 2-core machine with SwiftShader
// (tiny-mlp, 20000 generated 4×4 puzzles): 96% exact accuracy on 500 held-out puzzles after
// 1200 steps, at about 2 steps/s while other jobs shared the CPU.
const TINY_SUDOKU: TrmConfig = {
  ...PAPER_SUDOKU,
  hidden: 32,
  expansion: 2,
  swigluMultiple: 16,
  heads: 2,
  headDim: 16,
  latentSteps: 2,
  recursions: 2,
  maxSupervisionSteps: 8,
  vocab: 6,
  seqLen: 16,
  puzzleEmbSlots: 4,
  lr: 1e-3,
  weightDecay: 0.1,
  puzzleEmbLr: 1e-3,
  puzzleEmbWeightDecay: 0.1,
  warmupSteps: 100,
  emaRate: 0.99,
  batch: 32,
};

// Small enough that a float64 forward takes about a millisecond, for parity and gradient
// tests. heads·headDim equals hidden, so { variant: 'att' } gives the attention variant.
const TEST_TINY: TrmConfig = {
  ...PAPER_SUDOKU,
  hidden: 8,
  swigluMultiple: 8,
  heads: 2,
  headDim: 4,
  latentSteps: 2,
  recursions: 2,
  maxSupervisionSteps: 4,
  vocab: 5,
  seqLen: 4,
  puzzleEmbSlots: 2,
  numPuzzleIds: 3,
  lr: 1e-2,
  weightDecay: 0.1,
  puzzleEmbLr: 1e-2,
  puzzleEmbWeightDecay: 0.1,
  warmupSteps: 2,
  emaRate: 0.9,
  batch: 3,
};

export const TRM_CONFIGS = {
  /** Sudoku-Extreme TRM-MLP: 5,028,866 dense parameters. */
  'paper-mlp': PAPER_SUDOKU,
  /** Sudoku-Extreme TRM-Att: 8 heads × 64, RoPE, 6,828,034 dense parameters. */
  'paper-att': { ...PAPER_SUDOKU, variant: 'att' },
  'tiny-mlp': TINY_SUDOKU,
  'tiny-att': { ...TINY_SUDOKU, variant: 'att' },
  'test-tiny': TEST_TINY,
} as const satisfies Record<string, TrmConfig>;

export type TrmConfigName = keyof typeof TRM_CONFIGS;

/** Returns a validated copy of a named preset with `overrides` applied. */
export function trmConfig(name: TrmConfigName, overrides: Partial<TrmConfig> = {}): TrmConfig {
  const preset: TrmConfig | undefined = TRM_CONFIGS[name];
  if (!preset) {
    throw new Error(`unknown TRM config '${name}'; expected one of ${Object.keys(TRM_CONFIGS).join(', ')}`);
  }

  const config: TrmConfig = { ...preset, ...overrides };
  validateConfig(config);
  return config;
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction !== 0.5) {
    return Math.round(x);
  }
  return floor % 2 === 0 ? floor : floor + 1;
}

/** SwiGLU inner width for a layer of `width`: round(expansion·width·2/3) rounded up to a multiple of `multiple`. */
export function swigluInnerWidth(width: number, expansion: number, multiple = 256): number {
  const inner = roundHalfEven((expansion * width * 2) / 3);
  return Math.ceil(inner / multiple) * multiple;
}

export function trmSizes(config: TrmConfig): TrmSizes {
  const totalSeqLen = config.puzzleEmbSlots + config.seqLen;
  return {
    totalSeqLen,
    inner: swigluInnerWidth(config.hidden, config.expansion, config.swigluMultiple),
    tokenInner: config.variant === 'mlp' ? swigluInnerWidth(totalSeqLen, config.expansion, config.swigluMultiple) : 0,
  };
}

function isPositiveInteger(value: number): boolean {
  return Number.isInteger(value) && value > 0;
}

function isInRange(value: number, low: number, high: number): boolean {
  return Number.isFinite(value) && value >= low && value <= high;
}

/** Throws an Error that lists every invalid field of `config`, with the expected values. */
export function validateConfig(config: TrmConfig): void {
  const problems: string[] = [];

  if (config.variant !== 'mlp' && config.variant !== 'att') {
    problems.push(`variant is '${config.variant}', expected 'mlp' or 'att'`);
  }
  if (config.lossType !== 'stablemax' && config.lossType !== 'softmax') {
    problems.push(`lossType is '${config.lossType}', expected 'stablemax' or 'softmax'`);
  }

  const positiveIntegers = [
    'hidden', 'heads', 'headDim', 'swigluMultiple', 'blocks', 'latentSteps', 'recursions', 'maxSupervisionSteps',
    'vocab', 'seqLen', 'puzzleEmbSlots', 'numPuzzleIds', 'batch',
  ] as const;
  for (const field of positiveIntegers) {
    if (!isPositiveInteger(config[field])) {
      problems.push(`${field} is ${config[field]}, expected a positive integer`);
    }
  }
  if (!Number.isInteger(config.warmupSteps) || config.warmupSteps < 0) {
    problems.push(`warmupSteps is ${config.warmupSteps}, expected a non-negative integer`);
  }

  if (config.variant === 'att') {
    if (config.heads * config.headDim !== config.hidden) {
      problems.push(`hidden is ${config.hidden}, expected heads·headDim = ${config.heads}·${config.headDim} = ${config.heads * config.headDim} for the att variant`);
    }
    if (config.headDim % 2 !== 0) {
      problems.push(`headDim is ${config.headDim}, expected an even number because RoPE rotates pairs (i, i + headDim/2)`);
    }
  }

  const positiveReals = ['expansion', 'rmsEps', 'ropeBase'] as const;
  for (const field of positiveReals) {
    if (!(Number.isFinite(config[field]) && config[field] > 0)) {
      problems.push(`${field} is ${config[field]}, expected a positive number`);
    }
  }
  const nonNegativeReals = ['lr', 'weightDecay', 'puzzleEmbLr', 'puzzleEmbWeightDecay'] as const;
  for (const field of nonNegativeReals) {
    if (!(Number.isFinite(config[field]) && config[field] >= 0)) {
      problems.push(`${field} is ${config[field]}, expected a non-negative number`);
    }
  }
  const unitFractions = ['haltExplorationProb', 'emaRate'] as const;
  for (const field of unitFractions) {
    if (!isInRange(config[field], 0, 1)) {
      problems.push(`${field} is ${config[field]}, expected a value in [0, 1]`);
    }
  }
  for (const field of ['beta1', 'beta2'] as const) {
    if (!(isInRange(config[field], 0, 1) && config[field] < 1)) {
      problems.push(`${field} is ${config[field]}, expected a value in [0, 1)`);
    }
  }

  if (problems.length > 0) {
    throw new Error(`invalid TRM config: ${problems.join('; ')}`);
  }
}
