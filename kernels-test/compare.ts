// Comparison of a float32 GPU result with a float64 reference.
import { expect } from 'vitest';

/** Unit roundoff of float32. */
export const F32_EPS = 2 ** -24;

export interface Tolerance {
  /** Absolute floor, for outputs near zero. */
  abs: number;
  /**
   * Error allowed per element: rel · F32_EPS · sqrt(reductionLength) · magnitude[i], where
   * magnitude is the sum of |terms| that produced the element (or |expected| without it).
   * Rounding errors of a length-K sum grow like sqrt(K) for random signs.
   */
  rel: number;
  reductionLength: number;
  magnitude?: ArrayLike<number>;
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: Tolerance, label: string): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  const scale = tolerance.rel * F32_EPS * Math.sqrt(Math.max(1, tolerance.reductionLength));
  let worst = { index: -1, excess: 0, error: 0, allowed: 0 };
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i];
    const got = actual[i];
    if (Number.isNaN(want) || !Number.isFinite(want)) {
      expect(Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want)), `${label}[${i}]: got ${got}, expected ${want}`).toBe(true);
      continue;
    }
    const magnitude = tolerance.magnitude ? tolerance.magnitude[i] : Math.abs(want);
    const allowed = tolerance.abs + scale * magnitude;
    const error = Math.abs(got - want);
    if (!(error <= allowed) && (worst.index < 0 || error / allowed > worst.excess)) {
      worst = { index: i, excess: error / allowed, error, allowed };
    }
  }
  const detail = worst.index < 0 ? '' : `${label}[${worst.index}]: got ${actual[worst.index]}, expected ${expected[worst.index]}, error ${worst.error.toExponential(3)} > allowed ${worst.allowed.toExponential(3)}`;
  expect(detail, `${label}: every element within tolerance`).toBe('');
}

/** Deterministic pseudo-random floats in [-scale, scale): mulberry32. */
export function randomArray(length: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = (unit * 2 - 1) * scale;
  }
  return out;
}
