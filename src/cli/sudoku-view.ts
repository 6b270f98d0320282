// Text rendering of Sudoku grids for the terminal: box separators, and markers for cells that
// break a rule and cells that changed since the previous supervision step.
import type { SudokuGeometry } from '../data/sudoku.js';

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
