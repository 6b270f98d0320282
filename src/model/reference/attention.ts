// Float64 reference of non-causal multi-head self-attention with rotate-half RoPE.
import { linearBackward, linearForward } from './layers.js';

/** qkv [3·hidden, hidden] with rows q, then k, then v; o [hidden, hidden]. */
export interface AttentionWeights {
  qkv: Float64Array;
  o: Float64Array;
}

export interface AttentionShape {
  batch: number;
  seq: number;
  heads: number;
  headDim: number;
}

/** cos and sin of position·inv_freq[i], inv_freq[i] = base^(−2i/headDim): each [seq, headDim/2]. */
export interface RopeTables {
  cos: Float64Array;
  sin: Float64Array;
}

export interface AttentionCache {
  /** [batch·seq, hidden] */
  x: Float64Array;
  /** [batch, heads, seq, headDim], after RoPE. */
  q: Float64Array;
  /** [batch, heads, seq, headDim], after RoPE. */
  k: Float64Array;
  /** [batch, heads, seq, headDim] */
  v: Float64Array;
  /** [batch, heads, seq, seq]: softmax over the last axis. */
  probs: Float64Array;
  /** [batch·seq, hidden]: the heads' outputs side by side, the input of o_proj. */
  context: Float64Array;
}

/** Positions 0 … seq − 1, so the puzzle-embedding prefix takes the first positions. */
export function ropeTables(seq: number, headDim: number, base: number): RopeTables {
  const half = headDim / 2;
  const cos = new Float64Array(seq * half);
  const sin = new Float64Array(seq * half);
  for (let position = 0; position < seq; position++) {
    for (let i = 0; i < half; i++) {
      const angle = position * Math.pow(base, (-2 * i) / headDim);
      cos[position * half + i] = Math.cos(angle);
      sin[position * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/**
 * Rotates the pairs (i, i + headDim/2) of x [batch, heads, seq, headDim] in place by the
 * position's angle (direction 1): x·cos + rotate_half(x)·sin with rotate_half(x) =
 * concat(−x[half:], x[:half]). Direction −1 applies the transpose, which is the backward.
 */
function rotateInPlace(x: Float64Array, rope: RopeTables, shape: AttentionShape, direction: 1 | -1): void {
  const { batch, heads, seq, headDim } = shape;
  const half = headDim / 2;
  for (let row = 0; row < batch * heads * seq; row++) {
    const position = row % seq;
    const base = row * headDim;
    for (let i = 0; i < half; i++) {
      const cos = rope.cos[position * half + i];
      const sin = direction * rope.sin[position * half + i];
      const first = x[base + i];
      const second = x[base + half + i];
      x[base + i] = first * cos - second * sin;
      x[base + half + i] = second * cos + first * sin;
    }
  }
}

/**
 * Maps each element of q [batch, heads, seq, headDim] to its index in qkv [batch·seq, 3·hidden].
 * The k and v elements sit hidden and 2·hidden further along the same qkv row.
 */
function headIndexMap(shape: AttentionShape): Int32Array {
  const { batch, heads, seq, headDim } = shape;
  const hidden = heads * headDim;
  const map = new Int32Array(batch * heads * seq * headDim);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let s = 0; s < seq; s++) {
        for (let i = 0; i < headDim; i++) {
          map[((b * heads + h) * seq + s) * headDim + i] = (b * seq + s) * 3 * hidden + h * headDim + i;
        }
      }
    }
  }
  return map;
}

/** Splits qkv [batch·seq, 3·hidden] into q, k, v, each [batch, heads, seq, headDim]. */
function splitHeads(qkv: Float64Array, shape: AttentionShape): Float64Array[] {
  const hidden = shape.heads * shape.headDim;
  const map = headIndexMap(shape);
  return [0, 1, 2].map((part) => Float64Array.from(map, (index) => qkv[index + part * hidden]));
}

/** Merges q, k, v [batch, heads, seq, headDim] into [batch·seq, 3·hidden], the inverse of splitHeads. */
function mergeHeads(parts: Float64Array[], shape: AttentionShape): Float64Array {
  const hidden = shape.heads * shape.headDim;
  const map = headIndexMap(shape);
  const qkv = new Float64Array(shape.batch * shape.seq * 3 * hidden);
  parts.forEach((values, part) => {
    map.forEach((index, i) => {
      qkv[index + part * hidden] = values[i];
    });
  });
  return qkv;
}

/** o_proj(softmax(q·kᵀ/sqrt(headDim))·v) for x [batch·seq, hidden]; returns [batch·seq, hidden]. */
export function attentionForward(
  x: Float64Array,
  weights: AttentionWeights,
  shape: AttentionShape,
  rope: RopeTables | null,
): { out: Float64Array; cache: AttentionCache } {
  const { batch, heads, seq, headDim } = shape;
  const hidden = heads * headDim;
  const rows = batch * seq;
  const scale = 1 / Math.sqrt(headDim);

  const [q, k, v] = splitHeads(linearForward(x, weights.qkv, rows, hidden, 3 * hidden), shape);
  if (rope) {
    rotateInPlace(q, rope, shape, 1);
    rotateInPlace(k, rope, shape, 1);
  }

  const probs = new Float64Array(batch * heads * seq * seq);
  const context = new Float64Array(rows * hidden);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const head = (b * heads + h) * seq;
      for (let s = 0; s < seq; s++) {
        const probRow = (head + s) * seq;

        let max = -Infinity;
        for (let t = 0; t < seq; t++) {
          let dot = 0;
          for (let i = 0; i < headDim; i++) {
            dot += q[(head + s) * headDim + i] * k[(head + t) * headDim + i];
          }
          probs[probRow + t] = dot * scale;
          max = Math.max(max, dot * scale);
        }

        let sum = 0;
        for (let t = 0; t < seq; t++) {
          probs[probRow + t] = Math.exp(probs[probRow + t] - max);
          sum += probs[probRow + t];
        }
        for (let t = 0; t < seq; t++) {
          probs[probRow + t] /= sum;
        }

        for (let i = 0; i < headDim; i++) {
          let value = 0;
          for (let t = 0; t < seq; t++) {
            value += probs[probRow + t] * v[(head + t) * headDim + i];
          }
          context[(b * seq + s) * hidden + h * headDim + i] = value;
        }
      }
    }
  }

  const out = linearForward(context, weights.o, rows, hidden, hidden);
  return { out, cache: { x, q, k, v, probs, context } };
}

/** Adds the weight gradients into `grads` and returns dX [batch·seq, hidden] for dOut [batch·seq, hidden]. */
export function attentionBackward(
  dOut: Float64Array,
  cache: AttentionCache,
  weights: AttentionWeights,
  grads: AttentionWeights,
  shape: AttentionShape,
  rope: RopeTables | null,
): Float64Array {
  const { batch, heads, seq, headDim } = shape;
  const hidden = heads * headDim;
  const rows = batch * seq;
  const scale = 1 / Math.sqrt(headDim);
  const { q, k, v, probs } = cache;

  const dContext = linearBackward(dOut, cache.context, weights.o, grads.o, rows, hidden, hidden);

  const dQ = new Float64Array(q.length);
  const dK = new Float64Array(k.length);
  const dV = new Float64Array(v.length);
  const dScores = new Float64Array(seq);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const head = (b * heads + h) * seq;
      for (let s = 0; s < seq; s++) {
        const probRow = (head + s) * seq;
        const dContextRow = (b * seq + s) * hidden + h * headDim;

        // dP[t] = dContext·v[t]; dScore = P·(dP − Σ P·dP), the softmax backward.
        let weighted = 0;
        for (let t = 0; t < seq; t++) {
          let dProb = 0;
          for (let i = 0; i < headDim; i++) {
            dProb += dContext[dContextRow + i] * v[(head + t) * headDim + i];
            dV[(head + t) * headDim + i] += probs[probRow + t] * dContext[dContextRow + i];
          }
          dScores[t] = dProb;
          weighted += probs[probRow + t] * dProb;
        }
        for (let t = 0; t < seq; t++) {
          dScores[t] = probs[probRow + t] * (dScores[t] - weighted) * scale;
        }

        for (let t = 0; t < seq; t++) {
          for (let i = 0; i < headDim; i++) {
            dQ[(head + s) * headDim + i] += dScores[t] * k[(head + t) * headDim + i];
            dK[(head + t) * headDim + i] += dScores[t] * q[(head + s) * headDim + i];
          }
        }
      }
    }
  }

  if (rope) {
    rotateInPlace(dQ, rope, shape, -1);
    rotateInPlace(dK, rope, shape, -1);
  }
  const dQkv = mergeHeads([dQ, dK, dV], shape);
  return linearBackward(dQkv, cache.x, weights.qkv, grads.qkv, rows, hidden, 3 * hidden);
}
