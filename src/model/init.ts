// Seeded initialisation of the TRM tensors: a 32-bit-state PRNG, float64 erf/erfinv, and the
// JAX-style truncated normal of trunc_normal_init_ in the authors' TRM code.
import type { TrmConfig } from './config.js';
import { denseLayout, H_INIT, L_INIT, PUZZLE_EMBEDDING, tensorSpecs, type ParameterInit, type TensorSpec } from './parameters.js';

function rotateLeft(x: number, bits: number): number {
  return ((x << bits) | (x >>> (32 - bits))) >>> 0;
}

/** splitmix32: a Weyl sequence (step 0x9e3779b9) passed through MurmurHash3's fmix32 finalizer. */
function splitmix32(state: { value: number }): number {
  state.value = (state.value + 0x9e3779b9) >>> 0;
  let z = state.value;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * xoshiro128** (Blackman and Vigna, 2018): four 32-bit state words, period 2^128 − 1.
 * A seed fills the state with four outputs of splitmix32, so nearby seeds give unrelated
 * streams and the state is never all zero.
 */
export class Rng {
  private readonly state = new Uint32Array(4);

  constructor(seed: number) {
    if (!Number.isInteger(seed)) {
      throw new Error(`Rng seed is ${seed}, expected an integer`);
    }
    const seeder = { value: seed >>> 0 };
    for (let i = 0; i < 4; i++) {
      this.state[i] = splitmix32(seeder);
    }
  }

  /** Creates a generator from raw state words, so that tests can compare it with the authors' C code. */
  static fromState(words: readonly [number, number, number, number]): Rng {
    if (words.every((word) => word >>> 0 === 0)) {
      throw new Error('xoshiro128** state is all zero, expected at least one non-zero word');
    }
    const rng = new Rng(0);
    rng.state.set(words.map((word) => word >>> 0));
    return rng;
  }

  /** Returns a copy of the four state words, which fromState() turns back into this generator. */
  saveState(): [number, number, number, number] {
    const [a, b, c, d] = this.state;
    return [a, b, c, d];
  }

  nextUint32(): number {
    const s = this.state;
    const result = Math.imul(rotateLeft(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotateLeft(s[3], 11);
    return result;
  }

  /** Returns a uniform float in [0, 1) with 53 random bits, built from two outputs. */
  uniform(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Returns a uniform integer in [low, high). */
  integer(low: number, high: number): number {
    return low + Math.floor(this.uniform() * (high - low));
  }
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** erf(x) = 2/√π·e^(−x²)·Σ 2ⁿx^(2n+1)/(1·3·…·(2n+1)): all terms positive, so no cancellation. */
function erfSeries(x: number): number {
  const twoXSquared = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && term > 1e-17 * sum; n++) {
    term *= twoXSquared / (2 * n + 1);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
}

/** erfc(x) for x ≥ 2.5 by the continued fraction e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))). */
function erfcContinuedFraction(x: number): number {
  let tail = x;
  for (let k = 120; k >= 1; k--) {
    tail = x + k / 2 / tail;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / tail;
}

/** The error function in float64, accurate to a few ulps. */
export function erf(x: number): number {
  if (Number.isNaN(x)) {
    return NaN;
  }
  const magnitude = Math.abs(x);
  // erfc(6) ≈ 2e-17 is below half an ulp of 1.
  if (magnitude >= 6) {
    return Math.sign(x);
  }
  const value = magnitude < 2.5 ? erfSeries(magnitude) : 1 - erfcContinuedFraction(magnitude);
  return x < 0 ? -value : value;
}

/** Giles (2010), "Approximating the erfinv function": about 1e-7 relative error. */
function erfinvGuess(y: number): number {
  let w = -Math.log((1 - y) * (1 + y));
  let p: number;
  if (w < 5) {
    w -= 2.5;
    p = 2.81022636e-8;
    p = 3.43273939e-7 + p * w;
    p = -3.5233877e-6 + p * w;
    p = -4.39150654e-6 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = Math.sqrt(w) - 3;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  return p * y;
}

/** The inverse error function in float64 on (−1, 1); ±1 give ±Infinity, outside is NaN. */
export function erfinv(y: number): number {
  if (Number.isNaN(y) || Math.abs(y) > 1) {
    return NaN;
  }
  if (Math.abs(y) === 1) {
    return y * Infinity;
  }

  // Halley steps on f(x) = erf(x) − y, with f' = 2/√π·e^(−x²) and f'' = −2x·f', triple the
  // number of correct digits each: x ← x − f/(f' + x·f).
  let x = erfinvGuess(y);
  for (let step = 0; step < 2; step++) {
    const f = erf(x) - y;
    const slope = TWO_OVER_SQRT_PI * Math.exp(-x * x);
    x -= f / (slope + x * f);
  }
  return x;
}

/**
 * Scale of the normal that, truncated at ±2 of its own standard units, has standard
 * deviation `std`. The truncated standard normal has variance 1 − 4·φ(2)/(Φ(2) − Φ(−2)),
 * so the scale is std / sqrt(that) ≈ 1.1368·std.
 */
export function truncatedNormalScale(std: number): number {
  const pdfAt2 = Math.exp(-2) / Math.sqrt(2 * Math.PI);
  const massInside = erf(Math.SQRT2);
  return std / Math.sqrt(1 - (4 * pdfAt2) / massInside);
}

/**
 * Fills `out` with the truncated normal of trunc_normal_init_: uniform in
 * [erf(−√2), erf(√2)], erfinv, times √2·scale, clipped to ±2·scale. std = 0 gives zeros
 * without drawing.
 */
export function fillTruncatedNormal(out: Float32Array | Float64Array, std: number, rng: Rng): void {
  if (std === 0) {
    out.fill(0);
    return;
  }

  const scale = truncatedNormalScale(std);
  const low = erf(-Math.SQRT2);
  const high = erf(Math.SQRT2);
  for (let i = 0; i < out.length; i++) {
    const u = low + (high - low) * rng.uniform();
    const value = erfinv(u) * Math.SQRT2 * scale;
    out[i] = Math.min(2 * scale, Math.max(-2 * scale, value));
  }
}

/** Initial values of every tensor, float32 as the GPU stores them. */
export interface TrmParameters {
  /** The dense trained parameters in the flat layout of denseLayout(config): [layout.length]. */
  dense: Float32Array;
  /** [numPuzzleIds, hidden], trained by SignSGD. */
  puzzleEmb: Float32Array;
  /** [hidden]: the initial y of every position, never trained. */
  hInit: Float32Array;
  /** [hidden]: the initial z of every position, never trained. */
  lInit: Float32Array;
}

function fillInit(out: Float32Array, init: ParameterInit, rng: Rng): void {
  if (init.kind === 'constant') {
    out.fill(init.value);
  } else {
    fillTruncatedNormal(out, init.std, rng);
  }
}

/**
 * Draws the initial parameters from one Rng seeded with `seed`. Tensors are filled in
 * tensorSpecs order, each in row-major order, so a seed gives the same values everywhere.
 */
export function initializeParameters(config: TrmConfig, seed: number): TrmParameters {
  const layout = denseLayout(config);
  const rng = new Rng(seed);
  const params: TrmParameters = {
    dense: new Float32Array(layout.length),
    puzzleEmb: new Float32Array(config.numPuzzleIds * config.hidden),
    hInit: new Float32Array(config.hidden),
    lInit: new Float32Array(config.hidden),
  };

  const bufferTargets = new Map<string, Float32Array>([
    [PUZZLE_EMBEDDING, params.puzzleEmb],
    [H_INIT, params.hInit],
    [L_INIT, params.lInit],
  ]);
  const targetOf = (spec: TensorSpec): Float32Array => {
    const slot = layout.byName.get(spec.name);
    if (slot) {
      return params.dense.subarray(slot.offset, slot.offset + slot.size);
    }
    const buffer = bufferTargets.get(spec.name);
    if (!buffer) {
      throw new Error(`tensor '${spec.name}' has no storage in TrmParameters`);
    }
    return buffer;
  };

  for (const spec of tensorSpecs(config)) {
    fillInit(targetOf(spec), spec.init, rng);
  }
  return params;
}
