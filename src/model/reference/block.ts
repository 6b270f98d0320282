// Float64 reference of the post-norm block and of net(hidden, injection), the stack of blocks
// that every latent and answer update calls.
import { attentionBackward, attentionForward, type AttentionCache } from './attention.js';
import type { BlockWeights, ReferenceContext } from './context.js';
import {
  add,
  rmsNormBackward,
  rmsNormForward,
  swigluBackward,
  swigluForward,
  transposeLastTwo,
  type RmsNormCache,
  type SwigluCache,
} from './layers.js';

/** Activations of the sequence mixer, the first half of a block. */
export interface MixerCache {
  /** att variant: the attention sublayer. */
  attention: AttentionCache | null;
  /** mlp variant: the token-mixing SwiGLU, run on the [batch, hidden, seq] transpose. */
  tokenMlp: SwigluCache | null;
  /** Over hidden (att), or over the sequence axis of each channel (mlp). */
  norm: RmsNormCache;
}

export interface BlockCache {
  mixer: MixerCache;
  mlp: SwigluCache;
  mlpNorm: RmsNormCache;
}

/**
 * att: h ← rms(h + attn(h)). mlp: on the transpose [batch, hidden, seq], h ← rms(h + swiglu(h)),
 * where both the SwiGLU and the RMSNorm act along the sequence axis of each channel.
 * h [batch, seq, hidden] → [batch, seq, hidden].
 */
function mixerForward(context: ReferenceContext, weights: BlockWeights, h: Float64Array, batch: number): { out: Float64Array; cache: MixerCache } {
  const { config, sizes } = context;
  const seq = sizes.totalSeqLen;
  const hidden = config.hidden;

  if (weights.attention) {
    const shape = { batch, seq, heads: config.heads, headDim: config.headDim };
    const attention = attentionForward(h, weights.attention, shape, context.rope);
    const norm = rmsNormForward(add(h, attention.out), batch * seq, hidden, config.rmsEps);
    return { out: norm.out, cache: { attention: attention.cache, tokenMlp: null, norm } };
  }

  const tokenWeights = requireTokenMlp(weights);
  const hT = transposeLastTwo(h, batch, seq, hidden);
  const tokenMlp = swigluForward(hT, tokenWeights, batch * hidden, seq, sizes.tokenInner);
  const norm = rmsNormForward(add(hT, tokenMlp.out), batch * hidden, seq, config.rmsEps);
  return { out: transposeLastTwo(norm.out, batch, hidden, seq), cache: { attention: null, tokenMlp: tokenMlp.cache, norm } };
}

function mixerBackward(
  context: ReferenceContext,
  weights: BlockWeights,
  grads: BlockWeights,
  cache: MixerCache,
  dOut: Float64Array,
  batch: number,
): Float64Array {
  const { config, sizes } = context;
  const seq = sizes.totalSeqLen;
  const hidden = config.hidden;

  if (weights.attention && grads.attention && cache.attention) {
    const shape = { batch, seq, heads: config.heads, headDim: config.headDim };
    const dSum = rmsNormBackward(dOut, cache.norm, batch * seq, hidden);
    return add(dSum, attentionBackward(dSum, cache.attention, weights.attention, grads.attention, shape, context.rope));
  }

  if (!cache.tokenMlp) {
    throw new Error('block cache has neither attention nor token-mixing activations');
  }
  const dOutT = transposeLastTwo(dOut, batch, seq, hidden);
  const dSumT = rmsNormBackward(dOutT, cache.norm, batch * hidden, seq);
  const dTokenMlp = swigluBackward(dSumT, cache.tokenMlp, requireTokenMlp(weights), requireTokenMlp(grads), batch * hidden, seq, sizes.tokenInner);
  return transposeLastTwo(add(dSumT, dTokenMlp), batch, hidden, seq);
}

function requireTokenMlp(weights: BlockWeights) {
  if (!weights.tokenMlp) {
    throw new Error('block weights have no token-mixing SwiGLU, expected one for the mlp variant');
  }
  return weights.tokenMlp;
}

/** Post-norm block: the sequence mixer, then h ← rms(h + swiglu(h)) over hidden. h [batch, seq, hidden]. */
export function blockForward(context: ReferenceContext, weights: BlockWeights, h: Float64Array, batch: number): { out: Float64Array; cache: BlockCache } {
  const { config, sizes } = context;
  const rows = batch * sizes.totalSeqLen;

  const mixer = mixerForward(context, weights, h, batch);
  const mlp = swigluForward(mixer.out, weights.mlp, rows, config.hidden, sizes.inner);
  const mlpNorm = rmsNormForward(add(mixer.out, mlp.out), rows, config.hidden, config.rmsEps);

  return { out: mlpNorm.out, cache: { mixer: mixer.cache, mlp: mlp.cache, mlpNorm } };
}

/** Adds the block's weight gradients into `grads` and returns dH [batch, seq, hidden]. */
export function blockBackward(
  context: ReferenceContext,
  weights: BlockWeights,
  grads: BlockWeights,
  cache: BlockCache,
  dOut: Float64Array,
  batch: number,
): Float64Array {
  const { config, sizes } = context;
  const rows = batch * sizes.totalSeqLen;

  const dSum = rmsNormBackward(dOut, cache.mlpNorm, rows, config.hidden);
  const dMixerOut = add(dSum, swigluBackward(dSum, cache.mlp, weights.mlp, grads.mlp, rows, config.hidden, sizes.inner));
  return mixerBackward(context, weights, grads, cache.mixer, dMixerOut, batch);
}

/** net(hidden, injection): the blocks applied in order to hidden + injection, all [batch, seq, hidden]. */
export function netForward(
  context: ReferenceContext,
  blocks: BlockWeights[],
  hidden: Float64Array,
  injection: Float64Array,
  batch: number,
): { out: Float64Array; caches: BlockCache[] } {
  let h = add(hidden, injection);
  const caches: BlockCache[] = [];
  for (const weights of blocks) {
    const block = blockForward(context, weights, h, batch);
    caches.push(block.cache);
    h = block.out;
  }
  return { out: h, caches };
}

/**
 * Adds the weight gradients into `grads` and returns the gradient of hidden + injection,
 * which is both dHidden and dInjection.
 */
export function netBackward(
  context: ReferenceContext,
  blocks: BlockWeights[],
  grads: BlockWeights[],
  caches: BlockCache[],
  dOut: Float64Array,
  batch: number,
): Float64Array {
  let dH = dOut;
  for (let i = blocks.length - 1; i >= 0; i--) {
    dH = blockBackward(context, blocks[i], grads[i], caches[i], dH, batch);
  }
  return dH;
}
