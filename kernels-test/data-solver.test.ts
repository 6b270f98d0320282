import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { generateSudoku, generateSudokuSet, givensForDifficulty } from '../src/data/generator.js';
import { Random } from '../src/data/random.js';
import { countSolutions, findSolutions, solve } from '../src/data/solver.js';
import {
  answerAt,
  countGivens,
  formatGrid,
  isSolutionOf,
  parseGrid,
  puzzleAt,
  SUDOKU_4X4,
  SUDOKU_6X6,
  SUDOKU_9X9,
  SUDOKU_GEOMETRIES,
} from '../src/data/sudoku.js';
import { sharedFile } from './shared-data.js';


function readPuzzleLines(relativePath: string, count: number): string[] {
  const lines = readFileSync(sharedFile(relativePath), 'utf8').split('\n');
  return lines.filter((line) => line.length > 0 && !line.startsWith('#')).slice(0, count);
}

describe('Sudoku solver', () => {
  test('solves tdoku hardest puzzles uniquely', () => {
    const puzzles = readPuzzleLines('sudoku/raw/tdoku/puzzles5_forum_hardest_1905_11+.txt', 400).map((line) => parseGrid(line));

    const start = performance.now();
    const solutionCounts = puzzles.map((puzzle) => findSolutions(puzzle, SUDOKU_9X9, 2));
    const milliseconds = performance.now() - start;

    const perPuzzle = milliseconds / puzzles.length;
    console.info(`solver: ${puzzles.length} tdoku hardest puzzles checked for uniqueness in ${milliseconds.toFixed(0)} ms (${perPuzzle.toFixed(2)} ms each)`);
    expect(solutionCounts.every((solutions) => solutions.length === 1)).toBe(true);
    solutionCounts.forEach((solutions, i) => {
      expect(isSolutionOf(puzzles[i], solutions[0], SUDOKU_9X9), `puzzle ${i}`).toBe(true);
    });

    // 48766 puzzles at 25 ms each would take 20 minutes; a solver that needs hours fails here.
    expect(perPuzzle).toBeLessThan(25);
  });

  test('counts multiple solutions', () => {
    const puzzle = parseGrid(readPuzzleLines('sudoku/raw/tdoku/puzzles7_serg_benchmark.txt', 1)[0]);
    const solutions = findSolutions(puzzle, SUDOKU_9X9, 5);

    expect(countSolutions(puzzle, SUDOKU_9X9)).toBe(2);
    expect(solutions.length).toBeGreaterThanOrEqual(2);
    expect(new Set(solutions.map(formatGrid)).size).toBe(solutions.length);
    expect(solutions.every((solution) => isSolutionOf(puzzle, solution, SUDOKU_9X9))).toBe(true);
  });

  test('counts all 288 4×4 grids', () => {
    expect(countSolutions(new Uint8Array(16), SUDOKU_4X4, 1000)).toBe(288);
  });

  test('solves a minimal 6×6 puzzle', () => {
    // Eight givens, the minimum for a unique 6×6 puzzle.
    const puzzle = parseGrid('.4...3' + '....6.' + '.....4' + '..6..2' + '.3..1.' + '......');
    const solution = solve(puzzle, SUDOKU_6X6);

    expect(solution).not.toBeNull();
    expect(isSolutionOf(puzzle, solution as Uint8Array, SUDOKU_6X6)).toBe(true);
    expect(countSolutions(puzzle, SUDOKU_6X6)).toBe(1);
  });

  test('conflicting givens have no solution', () => {
    const puzzle = new Uint8Array(81);
    puzzle[0] = 5;
    puzzle[8 * 9] = 5;

    expect(solve(puzzle, SUDOKU_9X9)).toBeNull();
    expect(countSolutions(puzzle, SUDOKU_9X9)).toBe(0);
  });

  test('rejects malformed input', () => {
    expect(() => solve(new Uint8Array(80), SUDOKU_9X9)).toThrow('puzzle has 80 cells, expected 81 for a 9×9 grid');
    expect(() => solve(new Uint8Array(16).fill(5), SUDOKU_4X4)).toThrow('puzzle cell 0 is 5, expected 0 (blank) or a digit 1 to 4');
    expect(() => countSolutions(new Uint8Array(16), SUDOKU_4X4, 0)).toThrow(/maxSolutions 0 is invalid/);
  });

  test('random order gives varied grids', () => {
    const first = solve(new Uint8Array(81), SUDOKU_9X9, { random: new Random(1) });
    const second = solve(new Uint8Array(81), SUDOKU_9X9, { random: new Random(2) });
    const again = solve(new Uint8Array(81), SUDOKU_9X9, { random: new Random(1) });

    expect(formatGrid(first ?? [])).toBe(formatGrid(again ?? []));
    expect(formatGrid(first ?? [])).not.toBe(formatGrid(second ?? []));
    expect(isSolutionOf(new Uint8Array(81), first as Uint8Array, SUDOKU_9X9)).toBe(true);
  });
});

describe('Sudoku generator', () => {
  test.each(SUDOKU_GEOMETRIES.map((geometry) => [`${geometry.size}×${geometry.size}`, geometry] as const))(
    'unique %s puzzles',
    (_, geometry) => {
      for (let seed = 0; seed < 5; seed++) {
        const { puzzle, answer, givens } = generateSudoku({ seed, geometry, difficulty: 0.7 });

        expect(isSolutionOf(puzzle, answer, geometry)).toBe(true);
        expect(countSolutions(puzzle, geometry, 2)).toBe(1);
        expect(givens).toBe(countGivens(puzzle));
        expect(givens).toBeGreaterThanOrEqual(givensForDifficulty(geometry, 0.7));
      }
    },
  );

  test('same seed gives same puzzle', () => {
    const first = generateSudoku({ seed: 42, targetGivens: 30 });
    const again = generateSudoku({ seed: 42, targetGivens: 30 });
    const other = generateSudoku({ seed: 43, targetGivens: 30 });

    expect(formatGrid(again.puzzle)).toBe(formatGrid(first.puzzle));
    expect(formatGrid(other.puzzle)).not.toBe(formatGrid(first.puzzle));
  });

  test('reachable target is met exactly', () => {
    const easy = generateSudoku({ seed: 7, targetGivens: 36 });
    const hardest = generateSudoku({ seed: 7, targetGivens: 0 });

    expect(easy.givens).toBe(36);
    expect(hardest.givens).toBeLessThan(easy.givens);
    expect(hardest.givens).toBeGreaterThanOrEqual(17);

    // Every given of a puzzle generated down to target 0 is needed for uniqueness.
    for (let cell = 0; cell < 81; cell++) {
      if (hardest.puzzle[cell] === 0) continue;
      const reduced = hardest.puzzle.slice();
      reduced[cell] = 0;
      expect(countSolutions(reduced, SUDOKU_9X9, 2), `cell ${cell}`).toBe(2);
    }
  });

  test('difficulty maps to fewer givens', () => {
    expect(givensForDifficulty(SUDOKU_9X9, 0)).toBe(45);
    expect(givensForDifficulty(SUDOKU_9X9, 1)).toBe(17);
    expect(givensForDifficulty(SUDOKU_4X4, 1)).toBe(4);
    expect(givensForDifficulty(SUDOKU_6X6, 0.5)).toBeLessThan(givensForDifficulty(SUDOKU_6X6, 0.2));
    expect(() => givensForDifficulty(SUDOKU_9X9, 1.5)).toThrow('difficulty 1.5 is invalid: expected a number from 0 to 1');
    expect(() => generateSudoku({ seed: 1, targetGivens: 82 })).toThrow('targetGivens 82 is invalid: expected an integer from 0 to 81');
  });

  test('set of generated puzzles', () => {
    const set = generateSudokuSet(4, { seed: 3, geometry: SUDOKU_6X6, targetGivens: 14 });

    expect(set.count).toBe(4);
    expect(set.geometry).toBe(SUDOKU_6X6);
    for (let i = 0; i < set.count; i++) {
      expect(isSolutionOf(puzzleAt(set, i), answerAt(set, i), SUDOKU_6X6)).toBe(true);
      expect(countSolutions(puzzleAt(set, i), SUDOKU_6X6, 2)).toBe(1);
    }
  });
});
