// Seeded pseudo-random numbers: xoshiro128** (Blackman and Vigna), seeded through a
// SplitMix-style mixer so that nearby seeds give unrelated streams. The same seed gives the
// same sequence on every platform, in Node and in a browser.

const UINT32_RANGE = 2 ** 32;

/** Mixes one 32-bit value (the MurmurHash3 finalizer). */
function mix32(value: number): number {
  let z = value | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function checkSeedPart(value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`seed part ${value} is invalid: expected a safe integer`);
  }
}

/**
 * Combines a seed with further integers (an example index, a copy number) into one 32-bit
 * seed, so that each item of a data set gets its own stream and can be regenerated alone.
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let hash = 0x2545f491;
  for (const part of [seed, ...parts]) {
    checkSeedPart(part);
    const low = part >>> 0;
    const high = Math.floor(part / UINT32_RANGE) >>> 0;
    hash = mix32(hash ^ mix32(low + 0x9e3779b9));
    hash = mix32(hash ^ mix32(high + 0x7f4a7c15));
  }
  return hash;
}

export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /**
   * Starts a stream from any safe integer seed. The state is four outputs of splitmix32 (a
   * Weyl sequence through mix32) started at the seed; seeds outside [0, 2^32) are hashed to
   * 32 bits first. mix32 is a bijection, so at most one of the four words is zero, and
   * xoshiro's forbidden all-zero state cannot occur.
   */
  constructor(seed: number) {
    checkSeedPart(seed);
    let weyl = seed >= 0 && seed < UINT32_RANGE ? seed : deriveSeed(seed);
    const next = (): number => {
      weyl = (weyl + 0x9e3779b9) | 0;
      return mix32(weyl);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** Returns a uniform integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotateLeft(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const shifted = this.s1 << 9;

    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= shifted;
    this.s3 = rotateLeft(this.s3, 11);

    return result;
  }

  /** Returns a uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5;
    const low = this.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Returns a uniform integer in [min, max), without modulo bias. */
  nextInt(min: number, max: number): number {
    const span = max - min;
    if (!Number.isInteger(min) || !Number.isInteger(max) || span < 1 || span > UINT32_RANGE) {
      throw new RangeError(`integer range [${min}, ${max}) is invalid: expected integers with 1 <= max - min <= 2^32`);
    }

    // Values at or above the largest multiple of span would make low results more likely.
    const limit = UINT32_RANGE - (UINT32_RANGE % span);
    let value = this.nextUint32();
    while (value >= limit) value = this.nextUint32();
    return min + (value % span);
  }

  /** Returns true with the given probability. */
  nextBoolean(probability = 0.5): boolean {
    return this.nextFloat() < probability;
  }

  /** Shuffles an array or typed array in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [index: number]: unknown }>(items: T): T {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextInt(0, i + 1);
      const swap = items[i];
      items[i] = items[j];
      items[j] = swap;
    }
    return items;
  }

  /** Returns a uniformly random permutation of 0 … n-1. */
  permutation(n: number): Uint32Array {
    const values = new Uint32Array(n);
    for (let i = 0; i < n; i++) values[i] = i;
    return this.shuffle(values);
  }
}

function rotateLeft(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}
