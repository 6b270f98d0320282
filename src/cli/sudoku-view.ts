// Text rendering of Sudoku grids for the terminal: box separators, and markers for cells that
// break a rule and cells that changed since the previous supervision step.
import type { SudokuGeometry } from '../data/sudoku.js';

/** Cells whose digit repeats another digit in its row, column or box. */
export function conflictingCells(grid: ArrayLike<number>, geometry: SudokuGeometry): Set<number> {
  const { size, boxRows, boxCols } = geometry;
  const conflicts = new Set<number>();
  const boxesPerRow = size / boxCols;

  const check = (cells: number[]) => {
    const byDigit = new Map<number, number[]>();
    for (const cell of cells) {
      const digit = grid[cell];
      if (digit === 0) continue;
      byDigit.set(digit, [...(byDigit.get(digit) ?? []), cell]);
    }
    for (const group of byDigit.values()) if (group.length > 1) group.forEach((cell) => conflicts.add(cell));
  };

  for (let i = 0; i < size; i++) {
    check(Array.from({ length: size }, (_, c) => i * size + c));
    check(Array.from({ length: size }, (_, r) => r * size + i));
    const top = Math.floor(i / boxesPerRow) * boxRows;
    const left = (i % boxesPerRow) * boxCols;
    check(Array.from({ length: size }, (_, k) => (top + Math.floor(k / boxCols)) * size + left + (k % boxCols)));
  }
  return conflicts;
}

export interface GridMarks {
  /** Cells to mark with '!': they break a Sudoku rule. */
  conflicts?: Set<number>;
  /** Cells to mark with '*': their digit changed since the previous step. */
  changed?: Set<number>;
}

/**
 * Renders a grid, one row per line, with '|' and '-' between boxes. Every cell takes three
 * characters: the digit ('.' when blank) followed by its marker, '!' over '*'.
 */
export function renderGrid(grid: ArrayLike<number>, geometry: SudokuGeometry, marks: GridMarks = {}): string {
  const { size, boxRows, boxCols } = geometry;
  const lines: string[] = [];
  const separator = Array.from({ length: size / boxCols }, () => '-'.repeat(3 * boxCols)).join('+');

  for (let row = 0; row < size; row++) {
    if (row > 0 && row % boxRows === 0) lines.push(separator);
    let line = '';
    for (let col = 0; col < size; col++) {
      if (col > 0 && col % boxCols === 0) line += '|';
      const cell = row * size + col;
      const marker = marks.conflicts?.has(cell) ? '!' : marks.changed?.has(cell) ? '*' : ' ';
      line += ` ${grid[cell] === 0 ? '.' : grid[cell]}${marker}`;
    }
    lines.push(line);
  }
  return lines.join('\n');
}
