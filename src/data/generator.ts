// Seeded Sudoku generator: fills a random solved grid, then removes givens in random order
// while the solver still finds exactly one solution. The same options give the same puzzle.
import { deriveSeed, Random } from './random.js';
import { countSolutions, solve } from './solver.js';
import { cellCount, countGivens, describeGeometry, SUDOKU_9X9, SudokuSetBuilder, type SudokuGeometry, type SudokuSet } from './sudoku.js';

export interface GenerateOptions {
  seed: number;
  /** Default 9×9. */
  geometry?: SudokuGeometry;
  /**
   * Givens to stop at. Removal also stops once every remaining given is needed for a unique
   * solution, so low targets end above the target. With target 0, seeds 0 to 199 gave 9×9
   * puzzles with 21 to 27 givens, most with 23 to 25.
   */
  targetGivens?: number;
  /** 0 (easiest) to 1 (hardest), mapped by givensForDifficulty; ignored when targetGivens is set. */
  difficulty?: number;
}

export interface GeneratedSudoku {
  geometry: SudokuGeometry;
  puzzle: Uint8Array;
  answer: Uint8Array;
  givens: number;
}

// Per grid size: the minimum givens of a puzzle with a unique solution, and the givens kept at
// difficulty 0. The 9×9 minimum of 17 was settled by exhaustive computer search (McGuire,
// Tugemann and Civario, "There is no 16-Clue Sudoku", 2012); 4 and 8 are the known minimums
// for 4×4 and 6×6.
const GIVENS_RANGE: Record<number, { minimum: number; easiest: number }> = {
  4: { minimum: 4, easiest: 10 },
  6: { minimum: 8, easiest: 22 },
  9: { minimum: 17, easiest: 45 },
};

/**
 * Maps a 0–1 difficulty to a number of givens, linearly from many givens (0) to the minimum a
 * unique puzzle can have (1). Fewer givens is only a rough proxy for solving difficulty.
 */
export function givensForDifficulty(geometry: SudokuGeometry, difficulty: number): number {
  if (!(difficulty >= 0 && difficulty <= 1)) {
    throw new RangeError(`difficulty ${difficulty} is invalid: expected a number from 0 to 1`);
  }
  const range = GIVENS_RANGE[geometry.size];
  if (!range) throw new RangeError(`no givens range is defined for a ${describeGeometry(geometry)} grid`);
  return Math.round(range.easiest - difficulty * (range.easiest - range.minimum));
}

function resolveTargetGivens(geometry: SudokuGeometry, options: GenerateOptions): number {
  const cells = cellCount(geometry);
  const target = options.targetGivens ?? givensForDifficulty(geometry, options.difficulty ?? 0.5);
  if (!Number.isInteger(target) || target < 0 || target > cells) {
    throw new RangeError(`targetGivens ${target} is invalid: expected an integer from 0 to ${cells}`);
  }
  return target;
}

/** Generates one puzzle with a unique solution. */
export function generateSudoku(options: GenerateOptions): GeneratedSudoku {
  const geometry = options.geometry ?? SUDOKU_9X9;
  const targetGivens = resolveTargetGivens(geometry, options);
  const random = new Random(options.seed);

  const answer = solve(new Uint8Array(cellCount(geometry)), geometry, { random });
  if (!answer) throw new Error(`no solved ${describeGeometry(geometry)} grid exists, so the geometry is invalid`);

  const puzzle = answer.slice();
  let givens = puzzle.length;
  for (const cell of random.permutation(puzzle.length)) {
    if (givens <= targetGivens) break;

    const value = puzzle[cell];
    puzzle[cell] = 0;
    if (countSolutions(puzzle, geometry, 2) === 1) {
      givens--;
    } else {
      puzzle[cell] = value;
    }
  }

  return { geometry, puzzle, answer, givens: countGivens(puzzle) };
}

/** Generates count puzzles; puzzle i is generateSudoku with seed deriveSeed(seed, i). */
export function generateSudokuSet(count: number, options: GenerateOptions): SudokuSet {
  const geometry = options.geometry ?? SUDOKU_9X9;
  const builder = new SudokuSetBuilder(geometry, count);
  for (let i = 0; i < count; i++) {
    const generated = generateSudoku({ ...options, geometry, seed: deriveSeed(options.seed, i) });
    builder.add(generated.puzzle, generated.answer, { source: 'generated' });
  }
  return builder.build();
}
