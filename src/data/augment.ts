// Validity-preserving Sudoku augmentation, as in the reference TRM Sudoku builder: relabel the
// digits, transpose with probability 0.5, permute the bands and the rows inside each band,
// permute the stacks and the columns inside each stack. The same transform is applied to a
// puzzle and its answer, so the answer stays the unique solution of the new puzzle.
import { deriveSeed, Random } from './random.js';
import { answerAt, cellCount, describeGeometry, puzzleAt, SudokuSetBuilder, type SudokuGeometry, type SudokuSet } from './sudoku.js';

export interface SudokuTransform {
  /** New digit for each old digit; digitMap[0] = 0 keeps blanks blank. */
  digitMap: Uint8Array;
  /** Transposes the grid before the row and column permutations. */
  transpose: boolean;
  /** New row r takes old row rowPerm[r]. */
  rowPerm: Uint8Array;
  /** New column c takes old column colPerm[c]. */
  colPerm: Uint8Array;
}

export interface SudokuPair {
  puzzle: Uint8Array;
  answer: Uint8Array;
}

/**
 * Draws a permutation of groups of groupSize consecutive lines (bands or stacks), then of the
 * lines inside each group, flattened to a line permutation.
 */
function drawLinePermutation(groupCount: number, groupSize: number, random: Random): Uint8Array {
  const permutation = new Uint8Array(groupCount * groupSize);
  const groupOrder = random.permutation(groupCount);
  for (let slot = 0; slot < groupCount; slot++) {
    const inner = random.permutation(groupSize);
    for (let k = 0; k < groupSize; k++) {
      permutation[slot * groupSize + k] = groupOrder[slot] * groupSize + inner[k];
    }
  }
  return permutation;
}

/**
 * Draws a random transform. Transposing swaps the box shape, so grids with non-square boxes
 * (6×6 with 2×3 boxes) are never transposed.
 */
export function drawTransform(geometry: SudokuGeometry, random: Random): SudokuTransform {
  const { size, boxRows, boxCols } = geometry;

  const digitMap = new Uint8Array(size + 1);
  random.permutation(size).forEach((value, index) => {
    digitMap[index + 1] = value + 1;
  });
  const transpose = boxRows === boxCols && random.nextBoolean(0.5);

  // A band is boxRows consecutive rows, and there are size / boxRows bands; stacks likewise.
  const rowPerm = drawLinePermutation(size / boxRows, boxRows, random);
  const colPerm = drawLinePermutation(size / boxCols, boxCols, random);
  return { digitMap, transpose, rowPerm, colPerm };
}

/** Applies a transform to one grid: new cell (r, c) = digitMap[old (rowPerm[r], colPerm[c])]. */
export function applyTransform(grid: ArrayLike<number>, geometry: SudokuGeometry, transform: SudokuTransform): Uint8Array {
  const { size, boxRows, boxCols } = geometry;
  if (grid.length !== cellCount(geometry)) {
    throw new RangeError(`grid has ${grid.length} cells, expected ${cellCount(geometry)} for a ${describeGeometry(geometry)} grid`);
  }
  if (transform.transpose && boxRows !== boxCols) {
    throw new RangeError(`a ${boxRows}×${boxCols}-box grid cannot be transposed: its boxes would become ${boxCols}×${boxRows}`);
  }

  const { digitMap, transpose, rowPerm, colPerm } = transform;
  const result = new Uint8Array(grid.length);
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      const oldRow = rowPerm[row];
      const oldCol = colPerm[col];
      const source = transpose ? oldCol * size + oldRow : oldRow * size + oldCol;
      result[row * size + col] = digitMap[grid[source]];
    }
  }
  return result;
}

/** Returns one augmented copy of a puzzle and its answer, drawn from a seed or a stream. */
export function augmentPair(
  puzzle: ArrayLike<number>,
  answer: ArrayLike<number>,
  geometry: SudokuGeometry,
  seedOrRandom: number | Random,
): SudokuPair {
  const random = typeof seedOrRandom === 'number' ? new Random(seedOrRandom) : seedOrRandom;
  const transform = drawTransform(geometry, random);
  return { puzzle: applyTransform(puzzle, geometry, transform), answer: applyTransform(answer, geometry, transform) };
}

/**
 * Pre-generates copiesPerPuzzle examples per puzzle: copy 0 is the original and copy k >= 1 is
 * augmentPair with seed deriveSeed(seed, puzzleIndex, k). Copies of a puzzle are consecutive,
 * so puzzle p owns rows p * copiesPerPuzzle onward. The reference Sudoku-Extreme build uses
 * 1001 copies (the original and 1000 augmentations).
 */
export function augmentSet(set: SudokuSet, copiesPerPuzzle: number, seed: number): SudokuSet {
  if (!Number.isInteger(copiesPerPuzzle) || copiesPerPuzzle < 1) {
    throw new RangeError(`copiesPerPuzzle ${copiesPerPuzzle} is invalid: expected an integer >= 1`);
  }

  const builder = new SudokuSetBuilder(set.geometry, set.count * copiesPerPuzzle);
  for (let index = 0; index < set.count; index++) {
    const puzzle = puzzleAt(set, index);
    const answer = answerAt(set, index);
    const info = { source: set.sources[index], rating: set.ratings[index], line: set.lines[index] };

    builder.add(puzzle, answer, info);
    for (let copy = 1; copy < copiesPerPuzzle; copy++) {
      const augmented = augmentPair(puzzle, answer, set.geometry, deriveSeed(seed, index, copy));
      builder.add(augmented.puzzle, augmented.answer, info);
    }
  }
  return builder.build();
}
