// Float64 reference layers: linear, RMSNorm, SwiGLU and transposes. Each forward returns
// what its backward needs; each backward adds weight gradients into the given views and
// returns the input gradient.

/** Weights of one SwiGLU: gateUp [2·inner, width] (gate rows first, then up), down [width, inner]. */
export interface SwigluWeights {
  gateUp: Float64Array;
  down: Float64Array;
}

/** y [rows, outDim] = x [rows, inDim] · wᵀ, with w [outDim, inDim]. */
export function linearForward(x: Float64Array, w: Float64Array, rows: number, inDim: number, outDim: number): Float64Array {
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    const xRow = r * inDim;
    for (let o = 0; o < outDim; o++) {
      const wRow = o * inDim;
      let sum = 0;
      for (let i = 0; i < inDim; i++) {
        sum += x[xRow + i] * w[wRow + i];
      }
      y[r * outDim + o] = sum;
    }
  }
  return y;
}

/**
 * Adds dW [outDim, inDim] += dYᵀ·x and returns dX [rows, inDim] = dY·w, for dY [rows, outDim]
 * and x [rows, inDim].
 */
export function linearBackward(
  dY: Float64Array,
  x: Float64Array,
  w: Float64Array,
  dW: Float64Array,
  rows: number,
  inDim: number,
  outDim: number,
): Float64Array {
  const dX = new Float64Array(rows * inDim);
  for (let r = 0; r < rows; r++) {
    const xRow = r * inDim;
    for (let o = 0; o < outDim; o++) {
      const g = dY[r * outDim + o];
      if (g === 0) {
        continue;
      }
      const wRow = o * inDim;
      for (let i = 0; i < inDim; i++) {
        dX[xRow + i] += g * w[wRow + i];
        dW[wRow + i] += g * x[xRow + i];
      }
    }
  }
  return dX;
}

export interface RmsNormCache {
  /** [rows, width]: the normalised output. */
  out: Float64Array;
  /** [rows]: 1/sqrt(mean(x²) + eps). */
  rstd: Float64Array;
}

/** RMSNorm without gain over the last axis of x [rows, width]. */
export function rmsNormForward(x: Float64Array, rows: number, width: number, eps: number): RmsNormCache {
  const out = new Float64Array(rows * width);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let sumSquares = 0;
    for (let i = 0; i < width; i++) {
      sumSquares += x[base + i] * x[base + i];
    }
    rstd[r] = 1 / Math.sqrt(sumSquares / width + eps);
    for (let i = 0; i < width; i++) {
      out[base + i] = x[base + i] * rstd[r];
    }
  }
  return { out, rstd };
}

/** dx = rstd·(dy − y·mean(dy·y)) per row, for dOut [rows, width]. */
export function rmsNormBackward(dOut: Float64Array, cache: RmsNormCache, rows: number, width: number): Float64Array {
  const dX = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    let dot = 0;
    for (let i = 0; i < width; i++) {
      dot += dOut[base + i] * cache.out[base + i];
    }
    const meanDot = dot / width;
    for (let i = 0; i < width; i++) {
      dX[base + i] = cache.rstd[r] * (dOut[base + i] - cache.out[base + i] * meanDot);
    }
  }
  return dX;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export interface SwigluCache {
  /** [rows, width] */
  x: Float64Array;
  /** [rows, 2·inner]: gate in the first inner columns, up in the rest. */
  gateUp: Float64Array;
  /** [rows, inner]: silu(gate)·up, the input of down. */
  hidden: Float64Array;
}

/** down(silu(gate) ⊙ up) for x [rows, width]; returns [rows, width]. */
export function swigluForward(
  x: Float64Array,
  weights: SwigluWeights,
  rows: number,
  width: number,
  inner: number,
): { out: Float64Array; cache: SwigluCache } {
  const gateUp = linearForward(x, weights.gateUp, rows, width, 2 * inner);

  const hidden = new Float64Array(rows * inner);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < inner; j++) {
      const gate = gateUp[r * 2 * inner + j];
      const up = gateUp[r * 2 * inner + inner + j];
      hidden[r * inner + j] = gate * sigmoid(gate) * up;
    }
  }

  const out = linearForward(hidden, weights.down, rows, inner, width);
  return { out, cache: { x, gateUp, hidden } };
}

/** Adds the weight gradients into `grads` and returns dX [rows, width] for dOut [rows, width]. */
export function swigluBackward(
  dOut: Float64Array,
  cache: SwigluCache,
  weights: SwigluWeights,
  grads: SwigluWeights,
  rows: number,
  width: number,
  inner: number,
): Float64Array {
  const dHidden = linearBackward(dOut, cache.hidden, weights.down, grads.down, rows, inner, width);

  // silu'(g) = σ(g)·(1 + g·(1 − σ(g))).
  const dGateUp = new Float64Array(rows * 2 * inner);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < inner; j++) {
      const gateIndex = r * 2 * inner + j;
      const gate = cache.gateUp[gateIndex];
      const up = cache.gateUp[gateIndex + inner];
      const s = sigmoid(gate);
      const d = dHidden[r * inner + j];
      dGateUp[gateIndex] = d * up * s * (1 + gate * (1 - s));
      dGateUp[gateIndex + inner] = d * gate * s;
    }
  }

  return linearBackward(dGateUp, cache.x, weights.gateUp, grads.gateUp, rows, width, 2 * inner);
}

/** [batch, rows, cols] → [batch, cols, rows]; its own backward with rows and cols swapped. */
export function transposeLastTwo(x: Float64Array, batch: number, rows: number, cols: number): Float64Array {
  const out = new Float64Array(batch * rows * cols);
  for (let b = 0; b < batch; b++) {
    const base = b * rows * cols;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        out[base + c * rows + r] = x[base + r * cols + c];
      }
    }
  }
  return out;
}

/** Elementwise a + b. */
export function add(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    out[i] = a[i] + b[i];
  }
  return out;
}
