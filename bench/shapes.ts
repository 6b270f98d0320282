// The TRM sizes the benchmark runs at, taken from the paper presets, and the matrix products of
// one training step at a batch of puzzles.
import { linearForwardPlan, linearInputGradPlan, linearWeightGradPlan, type MatmulPlan } from '../src/kernels/matmul.js';
import { trmConfig, trmSizes } from '../src/model/config.js';
import { denseLayout } from '../src/model/parameters.js';

export interface TrmDims {
  batch: number;
  /** Prefix slots plus grid tokens per puzzle (97). */
  tokens: number;
  /** Grid tokens per puzzle, the positions with labels (81). */
  seq: number;
  prefix: number;
  hidden: number;
  inner: number;
  tokenInner: number;
  vocab: number;
  heads: number;
  headDim: number;
  puzzleRows: number;
  /** Dense parameters (AdamATan2 and EMA) of the MLP and attention variants, padded as laid out. */
  mlpParameters: number;
  attParameters: number;
}

export function trmDims(batch: number): TrmDims {
  const mlp = trmConfig('paper-mlp');
  const sizes = trmSizes(mlp);
  return {
    batch,
    tokens: sizes.totalSeqLen,
    seq: mlp.seqLen,
    prefix: mlp.puzzleEmbSlots,
    hidden: mlp.hidden,
    inner: sizes.inner,
    tokenInner: sizes.tokenInner,
    vocab: mlp.vocab,
    heads: mlp.heads,
    headDim: mlp.headDim,
    puzzleRows: mlp.numPuzzleIds,
    mlpParameters: denseLayout(mlp).length,
    attParameters: denseLayout(trmConfig('paper-att')).length,
  };
}

export interface MatmulShape {
  name: string;
  plan: MatmulPlan;
}

/**
 * The products of one block's forward and backward pass and of the output head, in both
 * variants. Token mixing multiplies a shared weight with each puzzle's [tokens, hidden] slice
 * (a batched product); its weight gradients sum over puzzles, which the engine does as one
 * accumulating product per puzzle, so those are listed per puzzle.
 */
export function trmMatmulShapes(dims: TrmDims): MatmulShape[] {
  const { batch, tokens, hidden, inner, tokenInner, vocab, seq } = dims;
  const rows = batch * tokens;
  const labelled = batch * seq;
  return [
    { name: 'mlp gate_up forward', plan: linearForwardPlan(rows, 2 * inner, hidden) },
    { name: 'mlp down forward', plan: linearForwardPlan(rows, hidden, inner) },
    { name: 'mlp down input grad', plan: linearInputGradPlan(rows, hidden, inner) },
    { name: 'mlp down weight grad', plan: linearWeightGradPlan(rows, hidden, inner) },
    { name: 'mlp gate_up input grad', plan: linearInputGradPlan(rows, 2 * inner, hidden) },
    { name: 'mlp gate_up weight grad', plan: linearWeightGradPlan(rows, 2 * inner, hidden) },
    { name: 'token mix gate_up forward', plan: sharedWeightPlan(batch, 2 * tokenInner, hidden, tokens, false) },
    { name: 'token mix down forward', plan: sharedWeightPlan(batch, tokens, hidden, tokenInner, false) },
    { name: 'token mix down input grad', plan: sharedWeightPlan(batch, tokenInner, hidden, tokens, true) },
    { name: 'token mix gate_up input grad', plan: sharedWeightPlan(batch, tokens, hidden, 2 * tokenInner, true) },
    { name: 'token mix down weight grad (1 puzzle)', plan: perPuzzleWeightGradPlan(tokens, tokenInner, hidden) },
    { name: 'token mix gate_up weight grad (1 puzzle)', plan: perPuzzleWeightGradPlan(2 * tokenInner, tokens, hidden) },
    { name: 'attn qkv forward', plan: linearForwardPlan(rows, 3 * hidden, hidden) },
    { name: 'attn qkv input grad', plan: linearInputGradPlan(rows, 3 * hidden, hidden) },
    { name: 'attn qkv weight grad', plan: linearWeightGradPlan(rows, 3 * hidden, hidden) },
    { name: 'attn out forward', plan: linearForwardPlan(rows, hidden, hidden) },
    { name: 'lm_head forward', plan: linearForwardPlan(labelled, vocab, hidden) },
    { name: 'lm_head input grad', plan: linearInputGradPlan(labelled, vocab, hidden) },
    { name: 'lm_head weight grad', plan: linearWeightGradPlan(labelled, vocab, hidden) },
  ];
}

/**
 * C[b] [M, N] = W [M, K] · X[b] [K, N] for each puzzle b, W shared; with `transposed`, W is
 * stored [K, M] (the input gradient through a token-mixing layer).
 */
function sharedWeightPlan(batch: number, M: number, N: number, K: number, transposed: boolean): MatmulPlan {
  return {
    M, N, K, batch,
    aStrideM: transposed ? 1 : K, aStrideK: transposed ? M : 1, aStrideBatch: 0,
    bStrideK: N, bStrideN: 1, bStrideBatch: K * N,
    accumulate: false, alpha: 1, aOffset: 0, bOffset: 0,
  };
}

/** dW [M, N] += dY [M, K] · Xᵀ, with X stored [N, K]: one puzzle's share of a token-mixing weight gradient. */
function perPuzzleWeightGradPlan(M: number, N: number, K: number): MatmulPlan {
  return {
    M, N, K, batch: 1,
    aStrideM: K, aStrideK: 1, aStrideBatch: 0,
    bStrideK: 1, bStrideN: K, bStrideBatch: 0,
    accumulate: true, alpha: 1, aOffset: 0, bOffset: 0,
  };
}
