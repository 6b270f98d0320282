import { beforeAll, describe, expect, test } from 'vitest';
import { applyTransform, augmentPair, augmentSet, drawTransform, type SudokuTransform } from '../src/data/augment.js';
import { generateSudokuSet } from '../src/data/generator.js';
import { deriveSeed, Random } from '../src/data/random.js';
import { countSolutions } from '../src/data/solver.js';
import {
  answerAt,
  countGivens,
  formatGrid,
  isSolutionOf,
  puzzleAt,
  readSudokuFile,
  SUDOKU_4X4,
  SUDOKU_6X6,
  SUDOKU_9X9,
  type SudokuSet,
} from '../src/data/sudoku.js';
import { sharedFile } from './shared-data.js';


async function readExtremePuzzles(limit: number): Promise<SudokuSet> {
  return (await readSudokuFile(sharedFile('sudoku/sudoku_extreme_train_1k.csv'), { limit })).set;
}

describe('seeded random numbers', () => {
  test('same seed gives same stream', () => {
    const first = new Random(123);
    const again = new Random(123);
    const other = new Random(124);
    const draw = (random: Random): number[] => Array.from({ length: 8 }, () => random.nextUint32());

    const values = draw(first);
    expect(draw(again)).toEqual(values);
    expect(draw(other)).not.toEqual(values);
  });

  test('floats lie in [0, 1)', () => {
    const random = new Random(5);
    const values = Array.from({ length: 10000 }, () => random.nextFloat());
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;

    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
  });

  test('integers cover the range', () => {
    const random = new Random(9);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 7000; i++) counts[random.nextInt(-3, 4) + 3]++;

    expect(counts.every((count) => count > 850 && count < 1150)).toBe(true);
    expect(() => random.nextInt(2, 2)).toThrow(/integer range \[2, 2\) is invalid/);
  });

  test('shuffle keeps every element', () => {
    const random = new Random(11);
    const shuffled = random.shuffle(Array.from({ length: 50 }, (_, i) => i));

    expect([...shuffled].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(shuffled).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(random.permutation(5)).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  test('derived seeds differ per part', () => {
    const seeds = new Set<number>();
    for (let index = 0; index < 100; index++) {
      for (let copy = 0; copy < 10; copy++) seeds.add(deriveSeed(7, index, copy));
    }

    expect(seeds.size).toBe(1000);
    expect(deriveSeed(7, 1, 2)).toBe(deriveSeed(7, 1, 2));
    expect(deriveSeed(7, 2 ** 40)).not.toBe(deriveSeed(7, 0));
  });
});

describe('Sudoku augmentation', () => {
  let extreme: SudokuSet;
  beforeAll(async () => {
    extreme = await readExtremePuzzles(200);
  });

  test('augmented answers solve augmented puzzles', () => {
    for (let i = 0; i < extreme.count; i++) {
      const puzzle = puzzleAt(extreme, i);
      const augmented = augmentPair(puzzle, answerAt(extreme, i), SUDOKU_9X9, deriveSeed(1, i));

      expect(isSolutionOf(augmented.puzzle, augmented.answer, SUDOKU_9X9), `puzzle ${i}`).toBe(true);
      expect(countGivens(augmented.puzzle)).toBe(countGivens(puzzle));
    }
  });

  test('augmented puzzles stay unique', () => {
    for (let i = 0; i < 20; i++) {
      const augmented = augmentPair(puzzleAt(extreme, i), answerAt(extreme, i), SUDOKU_9X9, i);
      expect(countSolutions(augmented.puzzle, SUDOKU_9X9, 2), `puzzle ${i}`).toBe(1);
    }
  });

  test('same seed gives same copy', () => {
    const puzzle = puzzleAt(extreme, 0);
    const answer = answerAt(extreme, 0);
    const first = augmentPair(puzzle, answer, SUDOKU_9X9, 99);
    const again = augmentPair(puzzle, answer, SUDOKU_9X9, 99);
    const other = augmentPair(puzzle, answer, SUDOKU_9X9, 100);

    expect(formatGrid(again.puzzle)).toBe(formatGrid(first.puzzle));
    expect(formatGrid(again.answer)).toBe(formatGrid(first.answer));
    expect(formatGrid(other.puzzle)).not.toBe(formatGrid(first.puzzle));
  });

  test('cell mapping follows the transform', () => {
    const answer = answerAt(extreme, 3);
    const transform: SudokuTransform = {
      digitMap: Uint8Array.from([0, 2, 3, 4, 5, 6, 7, 8, 9, 1]),
      transpose: true,
      rowPerm: Uint8Array.from([5, 3, 4, 0, 2, 1, 8, 6, 7]),
      colPerm: Uint8Array.from([6, 7, 8, 1, 0, 2, 3, 5, 4]),
    };
    const moved = applyTransform(answer, SUDOKU_9X9, transform);

    for (let row = 0; row < 9; row++) {
      for (let col = 0; col < 9; col++) {
        // The transpose comes first, so new (r, c) reads old (colPerm[c], rowPerm[r]).
        const old = answer[transform.colPerm[col] * 9 + transform.rowPerm[row]];
        expect(moved[row * 9 + col], `row ${row}, column ${col}`).toBe(transform.digitMap[old]);
      }
    }
    expect(isSolutionOf(new Uint8Array(81), moved, SUDOKU_9X9)).toBe(true);
  });

  test('row permutation keeps bands together', () => {
    const random = new Random(4);
    for (let i = 0; i < 50; i++) {
      const { rowPerm, colPerm, digitMap } = drawTransform(SUDOKU_9X9, random);
      for (let band = 0; band < 3; band++) {
        const bands = new Set(Array.from(rowPerm.subarray(band * 3, band * 3 + 3), (row) => Math.floor(row / 3)));
        const stacks = new Set(Array.from(colPerm.subarray(band * 3, band * 3 + 3), (col) => Math.floor(col / 3)));
        expect(bands.size).toBe(1);
        expect(stacks.size).toBe(1);
      }
      expect(digitMap[0]).toBe(0);
      expect(Array.from(digitMap.subarray(1)).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });

  test('transpose drawn about half the time', () => {
    const random = new Random(8);
    let transposed = 0;
    for (let i = 0; i < 400; i++) if (drawTransform(SUDOKU_4X4, random).transpose) transposed++;

    expect(transposed).toBeGreaterThan(150);
    expect(transposed).toBeLessThan(250);
  });

  test('6×6 grids are never transposed', () => {
    const set = generateSudokuSet(3, { seed: 2, geometry: SUDOKU_6X6, targetGivens: 12 });
    const random = new Random(3);
    for (let i = 0; i < 100; i++) {
      const transform = drawTransform(SUDOKU_6X6, random);
      const index = i % set.count;
      const puzzle = applyTransform(puzzleAt(set, index), SUDOKU_6X6, transform);
      const answer = applyTransform(answerAt(set, index), SUDOKU_6X6, transform);

      expect(transform.transpose).toBe(false);
      expect(isSolutionOf(puzzle, answer, SUDOKU_6X6)).toBe(true);
    }

    const transposing = { ...drawTransform(SUDOKU_6X6, random), transpose: true };
    expect(() => applyTransform(answerAt(set, 0), SUDOKU_6X6, transposing)).toThrow('a 2×3-box grid cannot be transposed: its boxes would become 3×2');
  });

  test('pre-generated copies', () => {
    const originals = { ...extreme, count: 5, puzzles: extreme.puzzles.subarray(0, 5 * 81), answers: extreme.answers.subarray(0, 5 * 81) };
    const copies = augmentSet(originals, 4, 77);

    expect(copies.count).toBe(20);
    for (let index = 0; index < 5; index++) {
      expect(puzzleAt(copies, index * 4)).toEqual(puzzleAt(originals, index));
      expect(copies.lines[index * 4 + 3]).toBe(originals.lines[index]);

      for (let copy = 1; copy < 4; copy++) {
        const expected = augmentPair(puzzleAt(originals, index), answerAt(originals, index), SUDOKU_9X9, deriveSeed(77, index, copy));
        expect(puzzleAt(copies, index * 4 + copy)).toEqual(expected.puzzle);
        expect(answerAt(copies, index * 4 + copy)).toEqual(expected.answer);
        expect(isSolutionOf(expected.puzzle, expected.answer, SUDOKU_9X9)).toBe(true);
      }
    }
    expect(() => augmentSet(originals, 0, 1)).toThrow('copiesPerPuzzle 0 is invalid: expected an integer >= 1');
  });
});
