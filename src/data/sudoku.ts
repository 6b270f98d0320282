// Sudoku grids, their token encoding and the readers for the common Sudoku file formats.
//
// A grid is a Uint8Array of size×size cell values in row-major order: 0 = blank, 1…N = digit.
// The model reads tokens instead, shifted by one as in the reference TRM data builder:
// 0 = pad (never produced for Sudoku), 1 = blank, 2…N+1 = digits 1…N.
//
// The parse functions work on text and run in a browser. readSudokuFile streams a file in
// Node, so files larger than the maximum string length can be read.
import { countSolutions, findSolutions } from './solver.js';

export interface SudokuGeometry {
  /** Digits per row, column and box (N). */
  readonly size: number;
  /** Rows per box. */
  readonly boxRows: number;
  /** Columns per box. */
  readonly boxCols: number;
}

export const SUDOKU_4X4: SudokuGeometry = Object.freeze({ size: 4, boxRows: 2, boxCols: 2 });
export const SUDOKU_6X6: SudokuGeometry = Object.freeze({ size: 6, boxRows: 2, boxCols: 3 });
export const SUDOKU_9X9: SudokuGeometry = Object.freeze({ size: 9, boxRows: 3, boxCols: 3 });
export const SUDOKU_GEOMETRIES: readonly SudokuGeometry[] = Object.freeze([SUDOKU_4X4, SUDOKU_6X6, SUDOKU_9X9]);

export const PAD_TOKEN = 0;
export const BLANK_TOKEN = 1;

export function cellCount(geometry: SudokuGeometry): number {
  return geometry.size * geometry.size;
}

/** Returns "9×9" style names for messages. */
export function describeGeometry(geometry: SudokuGeometry): string {
  return `${geometry.size}×${geometry.size}`;
}

/** Token vocabulary size: pad, blank and N digits. */
export function vocabSize(geometry: SudokuGeometry): number {
  return geometry.size + 2;
}

/** Returns the geometry whose grid has this many cells (16, 36 or 81), or undefined. */
export function findGeometryForLength(length: number): SudokuGeometry | undefined {
  return SUDOKU_GEOMETRIES.find((geometry) => cellCount(geometry) === length);
}

export function geometryFromLength(length: number): SudokuGeometry {
  const geometry = findGeometryForLength(length);
  if (!geometry) throw new RangeError(describeLengthError('grid', length));
  return geometry;
}

function describeLengthError(field: string, length: number): string {
  const lengths = SUDOKU_GEOMETRIES.map(cellCount).join(', ');
  const names = SUDOKU_GEOMETRIES.map(describeGeometry).join(', ');
  return `${field} has ${length} characters, expected one of ${lengths} (a ${names} grid)`;
}

// ---------------------------------------------------------------------------------------------
// Tokens

/** Converts cell values to model tokens (value + 1). */
export function encodeGrid(grid: ArrayLike<number>): Uint8Array {
  const tokens = new Uint8Array(grid.length);
  for (let i = 0; i < grid.length; i++) tokens[i] = grid[i] + 1;
  return tokens;
}

/** Converts model tokens back to cell values; rejects pad and out-of-vocabulary tokens. */
export function decodeTokens(tokens: ArrayLike<number>, geometry: SudokuGeometry): Uint8Array {
  const maxToken = geometry.size + 1;
  const grid = new Uint8Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (!Number.isInteger(token) || token < BLANK_TOKEN || token > maxToken) {
      throw new RangeError(`token ${token} at position ${i} is invalid: expected ${BLANK_TOKEN} (blank) to ${maxToken} for a ${describeGeometry(geometry)} grid`);
    }
    grid[i] = token - 1;
  }
  return grid;
}

// ---------------------------------------------------------------------------------------------
// Grid text

const CODE_DOT = 0x2e;
const CODE_ZERO = 0x30;

/** Returns why text is not a grid of this geometry ('.' or '0' = blank), or null when it is. */
export function findGridTextError(text: string, geometry: SudokuGeometry, field = 'grid'): string | null {
  const cells = cellCount(geometry);
  if (text.length !== cells) {
    return `${field} has ${text.length} characters, expected ${cells} for a ${describeGeometry(geometry)} grid`;
  }

  for (let i = 0; i < cells; i++) {
    const code = text.charCodeAt(i);
    const digit = code - CODE_ZERO;
    if (code !== CODE_DOT && (digit < 0 || digit > geometry.size)) {
      return `${field} has an invalid character ${JSON.stringify(text[i])} at position ${i + 1}: expected a digit 1-${geometry.size}, or '.' or '0' for a blank`;
    }
  }
  return null;
}

/** Parses a row-major grid string; the geometry defaults to the one matching its length. */
export function parseGrid(text: string, geometry: SudokuGeometry = geometryFromLength(text.length)): Uint8Array {
  const error = findGridTextError(text, geometry);
  if (error) throw new RangeError(error);
  return gridFromCheckedText(text);
}

function gridFromCheckedText(text: string): Uint8Array {
  const grid = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    grid[i] = code === CODE_DOT ? 0 : code - CODE_ZERO;
  }
  return grid;
}

/** Formats a grid as a row-major string with '.' for blanks. */
export function formatGrid(grid: ArrayLike<number>): string {
  let text = '';
  for (let i = 0; i < grid.length; i++) text += grid[i] === 0 ? '.' : String(grid[i]);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Rules

interface Unit {
  name: string;
  cells: number[];
}

const unitCache = new Map<SudokuGeometry, Unit[]>();

/** Lists the rows, columns and boxes of a geometry, each with its cell indices. */
function unitsOf(geometry: SudokuGeometry): Unit[] {
  const cached = unitCache.get(geometry);
  if (cached) return cached;

  const { size, boxRows, boxCols } = geometry;
  const units: Unit[] = [];
  for (let i = 0; i < size; i++) {
    units.push({ name: `row ${i + 1}`, cells: Array.from({ length: size }, (_, col) => i * size + col) });
  }
  for (let i = 0; i < size; i++) {
    units.push({ name: `column ${i + 1}`, cells: Array.from({ length: size }, (_, row) => row * size + i) });
  }
  for (let i = 0; i < size; i++) {
    const top = Math.floor(i / (size / boxCols)) * boxRows;
    const left = (i % (size / boxCols)) * boxCols;
    const cells = Array.from({ length: size }, (_, k) => (top + Math.floor(k / boxCols)) * size + left + (k % boxCols));
    units.push({ name: `box ${i + 1}`, cells });
  }

  unitCache.set(geometry, units);
  return units;
}

function describeCell(geometry: SudokuGeometry, cell: number): string {
  return `row ${Math.floor(cell / geometry.size) + 1}, column ${(cell % geometry.size) + 1}`;
}

/** Returns the first digit repeated in a row, column or box (blanks ignored), or null. */
export function findGridConflict(grid: ArrayLike<number>, geometry: SudokuGeometry): string | null {
  for (const unit of unitsOf(geometry)) {
    let seen = 0;
    for (const cell of unit.cells) {
      const value = grid[cell];
      if (value === 0) continue;
      const bit = 1 << value;
      if (seen & bit) return `digit ${value} appears twice in ${unit.name}`;
      seen |= bit;
    }
  }
  return null;
}

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

/** Returns why a grid is not a complete valid solution, or null when it is. */
export function findSolutionError(grid: ArrayLike<number>, geometry: SudokuGeometry): string | null {
  for (let cell = 0; cell < grid.length; cell++) {
    if (grid[cell] === 0) return `the cell at ${describeCell(geometry, cell)} is blank`;
  }
  return findGridConflict(grid, geometry);
}

/** Returns the first given that the answer changes, or null when the answer keeps every given. */
export function findContradiction(puzzle: ArrayLike<number>, answer: ArrayLike<number>, geometry: SudokuGeometry): string | null {
  for (let cell = 0; cell < puzzle.length; cell++) {
    if (puzzle[cell] !== 0 && puzzle[cell] !== answer[cell]) {
      return `the given at ${describeCell(geometry, cell)} is ${puzzle[cell]} but the answer has ${answer[cell]}`;
    }
  }
  return null;
}

/** True when answer is a complete valid grid that keeps every given of puzzle. */
export function isSolutionOf(puzzle: ArrayLike<number>, answer: ArrayLike<number>, geometry: SudokuGeometry): boolean {
  return findSolutionError(answer, geometry) === null && findContradiction(puzzle, answer, geometry) === null;
}

export function countGivens(puzzle: ArrayLike<number>): number {
  let givens = 0;
  for (let i = 0; i < puzzle.length; i++) if (puzzle[i] !== 0) givens++;
  return givens;
}

// ---------------------------------------------------------------------------------------------
// Sets of puzzles

/** Puzzles and answers of one geometry, stored flat so millions of rows stay compact. */
export interface SudokuSet {
  readonly geometry: SudokuGeometry;
  readonly count: number;
  /** count × cells cell values, row-major per puzzle (0 = blank). */
  readonly puzzles: Uint8Array;
  /** count × cells cell values of the solved grids. */
  readonly answers: Uint8Array;
  /** Source column per example ('' when the file has none). */
  readonly sources: readonly string[];
  /** Rating column per example (NaN when the file has none). */
  readonly ratings: readonly number[];
  /** 1-based line of the example in its file (0 for generated examples). */
  readonly lines: readonly number[];
}

export interface ExampleInfo {
  source?: string;
  rating?: number;
  line?: number;
}

/** Returns a view of puzzle index in the set (no copy). */
export function puzzleAt(set: SudokuSet, index: number): Uint8Array {
  const cells = cellCount(set.geometry);
  return set.puzzles.subarray(index * cells, (index + 1) * cells);
}

/** Returns a view of answer index in the set (no copy). */
export function answerAt(set: SudokuSet, index: number): Uint8Array {
  const cells = cellCount(set.geometry);
  return set.answers.subarray(index * cells, (index + 1) * cells);
}

/** Converts a set to model inputs and labels: count × cells tokens each. */
export function encodeSet(set: SudokuSet): { inputs: Uint8Array; labels: Uint8Array } {
  return { inputs: encodeGrid(set.puzzles), labels: encodeGrid(set.answers) };
}

/** Splits a set into its first `first` examples and the rest, copying both. */
export function splitSudokuSet(set: SudokuSet, first: number): [SudokuSet, SudokuSet] {
  const cells = cellCount(set.geometry);
  const part = (from: number, to: number): SudokuSet => ({
    geometry: set.geometry,
    count: to - from,
    puzzles: set.puzzles.slice(from * cells, to * cells),
    answers: set.answers.slice(from * cells, to * cells),
    sources: set.sources.slice(from, to),
    ratings: set.ratings.slice(from, to),
    lines: set.lines.slice(from, to),
  });
  return [part(0, first), part(first, set.count)];
}

/** Collects examples into a SudokuSet, growing its buffers as needed. */
export class SudokuSetBuilder {
  private puzzles: Uint8Array;
  private answers: Uint8Array;
  private readonly sources: string[] = [];
  private readonly sourceNames = new Map<string, string>();
  private readonly ratings: number[] = [];
  private readonly lines: number[] = [];
  private readonly cells: number;
  private size = 0;

  constructor(readonly geometry: SudokuGeometry, initialCapacity = 1024) {
    this.cells = cellCount(geometry);
    this.puzzles = new Uint8Array(Math.max(1, initialCapacity) * this.cells);
    this.answers = new Uint8Array(this.puzzles.length);
  }

  get count(): number {
    return this.size;
  }

  add(puzzle: ArrayLike<number>, answer: ArrayLike<number>, info: ExampleInfo = {}): void {
    if (puzzle.length !== this.cells || answer.length !== this.cells) {
      throw new RangeError(`example has ${puzzle.length} puzzle and ${answer.length} answer cells, expected ${this.cells} each for a ${describeGeometry(this.geometry)} grid`);
    }
    this.reserve(this.size + 1);

    const offset = this.size * this.cells;
    this.puzzles.set(puzzle, offset);
    this.answers.set(answer, offset);
    this.sources.push(this.intern(info.source ?? ''));
    this.ratings.push(info.rating ?? Number.NaN);
    this.lines.push(info.line ?? 0);
    this.size++;
  }

  build(): SudokuSet {
    const used = this.size * this.cells;
    return {
      geometry: this.geometry,
      count: this.size,
      puzzles: this.puzzles.slice(0, used),
      answers: this.answers.slice(0, used),
      sources: this.sources.slice(),
      ratings: this.ratings.slice(),
      lines: this.lines.slice(),
    };
  }

  /**
   * Returns one shared string per distinct source. A field split from a line can keep the
   * whole line alive in V8, which for millions of rows would hold the entire file in memory.
   */
  private intern(source: string): string {
    const known = this.sourceNames.get(source);
    if (known !== undefined) return known;
    this.sourceNames.set(source, source);
    return source;
  }

  private reserve(examples: number): void {
    if (examples * this.cells <= this.puzzles.length) return;

    const capacity = Math.max(examples, 2 * (this.puzzles.length / this.cells)) * this.cells;
    const puzzles = new Uint8Array(capacity);
    const answers = new Uint8Array(capacity);
    puzzles.set(this.puzzles);
    answers.set(this.answers);
    this.puzzles = puzzles;
    this.answers = answers;
  }
}

// ---------------------------------------------------------------------------------------------
// Readers

/**
 * File layouts: the Sudoku-Extreme CSV (source,question,answer,rating), a plain CSV
 * (question,answer[,source]), the Kaggle CSV (quizzes,solutions), or a puzzle list with one
 * puzzle per line, '#' comment lines and no answers. The CSV header selects the layout.
 */
export type SudokuFileFormat = 'sudoku-extreme-csv' | 'plain-csv' | 'kaggle-csv' | 'puzzle-list';

export type BadRowPolicy = 'stop' | 'skip';

export interface SudokuReadOptions {
  /** 'stop' (default) throws a SudokuDataError at the first bad row; 'skip' lists and skips bad rows. */
  badRows?: BadRowPolicy;
  /** Maximum number of examples to read; reading ends there. */
  limit?: number;
  /**
   * Also checks with the solver that each CSV puzzle has exactly one solution. Puzzle lists
   * are always checked, because their answer comes from the solver.
   */
  checkUnique?: boolean;
  /** Required geometry; by default the first row's length decides it. */
  geometry?: SudokuGeometry;
  /** How many bad rows the result lists (default 1000); badRowCount counts all of them. */
  maxListedBadRows?: number;
}

export interface BadRow {
  file: string;
  /** 1-based line number. */
  line: number;
  reason: string;
}

export interface SudokuReadResult {
  format: SudokuFileFormat;
  /** The valid examples. Its geometry is the requested or detected one, 9×9 when neither exists. */
  set: SudokuSet;
  /** Skipped rows, at most maxListedBadRows of them. */
  badRows: BadRow[];
  badRowCount: number;
}

/** Bad input at a known file and line; the message is "file:line: reason". */
export class SudokuDataError extends Error {
  constructor(readonly file: string, readonly line: number, readonly reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'SudokuDataError';
  }
}

interface CsvLayout {
  format: SudokuFileFormat;
  columns: string[];
  puzzleColumn: string;
  answerColumn: string;
}

const CSV_LAYOUTS: readonly CsvLayout[] = [
  { format: 'sudoku-extreme-csv', columns: ['source', 'question', 'answer', 'rating'], puzzleColumn: 'question', answerColumn: 'answer' },
  { format: 'plain-csv', columns: ['question', 'answer', 'source'], puzzleColumn: 'question', answerColumn: 'answer' },
  { format: 'plain-csv', columns: ['question', 'answer'], puzzleColumn: 'question', answerColumn: 'answer' },
  { format: 'kaggle-csv', columns: ['quizzes', 'solutions'], puzzleColumn: 'quizzes', answerColumn: 'solutions' },
];

interface ParsedRow {
  puzzle: Uint8Array;
  answer: Uint8Array;
  source: string;
  rating: number;
}

/**
 * Splits one CSV line on commas. Double-quoted fields may contain commas and "" for a quote.
 * Returns a reason string for an unterminated quote.
 */
function splitCsvLine(line: string): string[] | string {
  if (!line.includes('"')) return line.split(',');

  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quoted && char === '"' && line[i + 1] === '"') {
      field += '"';
      i++;
    } else if (char === '"') {
      quoted = !quoted;
    } else if (char === ',' && !quoted) {
      fields.push(field);
      field = '';
    } else {
      field += char;
    }
  }
  if (quoted) return 'a quoted field is not closed';
  fields.push(field);
  return fields;
}

function parseRating(text: string): number | string {
  const rating = Number(text);
  return text === '' || Number.isNaN(rating) ? `rating '${text}' is not a number` : rating;
}

function checkReadOptions(options: SudokuReadOptions): void {
  const { badRows, limit, maxListedBadRows } = options;
  if (badRows !== undefined && badRows !== 'stop' && badRows !== 'skip') {
    throw new RangeError(`badRows '${String(badRows)}' is invalid: expected 'stop' or 'skip'`);
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new RangeError(`limit ${limit} is invalid: expected a non-negative integer`);
  }
  if (maxListedBadRows !== undefined && (!Number.isInteger(maxListedBadRows) || maxListedBadRows < 0)) {
    throw new RangeError(`maxListedBadRows ${maxListedBadRows} is invalid: expected a non-negative integer`);
  }
}

/** Line-by-line parser shared by the text and the streaming file reader. */
class SudokuLineParser {
  private format: SudokuFileFormat | undefined;
  private layout: CsvLayout | undefined;
  private geometry: SudokuGeometry | undefined;
  private builder: SudokuSetBuilder | undefined;
  private readonly badRows: BadRow[] = [];
  private badRowCount = 0;
  private readonly limit: number;

  constructor(private readonly file: string, private readonly options: SudokuReadOptions) {
    checkReadOptions(options);
    this.limit = options.limit ?? Number.POSITIVE_INFINITY;
    this.geometry = options.geometry;
  }

  /** True once the format is known and limit examples are read. */
  get done(): boolean {
    return this.format !== undefined && (this.builder?.count ?? 0) >= this.limit;
  }

  addLine(rawLine: string, lineNumber: number): void {
    const line = rawLine.replace(/^\uFEFF/, '').replace(/\r$/, '');
    if (line.trim() === '') return;

    const isComment = line.trimStart().startsWith('#');
    if (this.format === undefined) {
      if (isComment) return;
      this.detectFormat(line, lineNumber);
      if (this.format !== 'puzzle-list' || this.done) return;
    } else if (this.format === 'puzzle-list' && isComment) {
      return;
    }

    const row = this.layout ? this.parseCsvRow(line, this.layout) : this.parseListRow(line);
    if (typeof row === 'string') {
      this.reject(lineNumber, row);
      return;
    }

    this.builderFor().add(row.puzzle, row.answer, { source: row.source, rating: row.rating, line: lineNumber });
  }

  finish(): SudokuReadResult {
    if (this.format === undefined) {
      throw new SudokuDataError(this.file, 1, 'the file contains no CSV header and no puzzle lines');
    }
    const builder = this.builder ?? new SudokuSetBuilder(this.geometry ?? SUDOKU_9X9, 1);
    return { format: this.format, set: builder.build(), badRows: this.badRows, badRowCount: this.badRowCount };
  }

  private detectFormat(line: string, lineNumber: number): void {
    if (!line.includes(',')) {
      this.format = 'puzzle-list';
      return;
    }

    const header = line.split(',').map((name) => name.trim().toLowerCase()).join(',');
    const layout = CSV_LAYOUTS.find((candidate) => candidate.columns.join(',') === header);
    if (!layout) {
      const known = CSV_LAYOUTS.map((candidate) => candidate.columns.join(',')).join("', '");
      throw new SudokuDataError(this.file, lineNumber, `unknown CSV header '${line}': expected one of '${known}'`);
    }
    this.format = layout.format;
    this.layout = layout;
  }

  private builderFor(): SudokuSetBuilder {
    if (!this.builder) this.builder = new SudokuSetBuilder(this.geometry ?? SUDOKU_9X9);
    return this.builder;
  }

  /** Returns the grid in text, or why it is invalid; the first grid read fixes the geometry. */
  private parseGridField(text: string, field: string): Uint8Array | string {
    if (!this.geometry) {
      const detected = findGeometryForLength(text.length);
      if (!detected) return describeLengthError(field, text.length);
      this.geometry = detected;
    }

    const error = findGridTextError(text, this.geometry, field);
    return error ?? gridFromCheckedText(text);
  }

  private parseCsvRow(line: string, layout: CsvLayout): ParsedRow | string {
    const fields = splitCsvLine(line);
    if (typeof fields === 'string') return fields;
    if (fields.length !== layout.columns.length) {
      return `expected ${layout.columns.length} comma-separated fields (${layout.columns.join(',')}), found ${fields.length}`;
    }
    const field = (name: string): string => fields[layout.columns.indexOf(name)]?.trim() ?? '';

    const puzzle = this.parseGridField(field(layout.puzzleColumn), layout.puzzleColumn);
    if (typeof puzzle === 'string') return puzzle;
    const answer = this.parseGridField(field(layout.answerColumn), layout.answerColumn);
    if (typeof answer === 'string') return answer;

    const rating = layout.columns.includes('rating') ? parseRating(field('rating')) : Number.NaN;
    if (typeof rating === 'string') return rating;

    const error = this.findAnswerError(puzzle, answer, layout);
    return error ?? { puzzle, answer, source: field('source'), rating };
  }

  private findAnswerError(puzzle: Uint8Array, answer: Uint8Array, layout: CsvLayout): string | null {
    const geometry = this.geometry as SudokuGeometry;
    const solutionError = findSolutionError(answer, geometry);
    if (solutionError) return `${layout.answerColumn} is not a valid solved grid: ${solutionError}`;

    const contradiction = findContradiction(puzzle, answer, geometry);
    if (contradiction) return `${layout.answerColumn} contradicts the ${layout.puzzleColumn}: ${contradiction}`;

    if (this.options.checkUnique && countSolutions(puzzle, geometry, 2) > 1) {
      return `${layout.puzzleColumn} has more than one solution`;
    }
    return null;
  }

  private parseListRow(line: string): ParsedRow | string {
    const puzzle = this.parseGridField(line.trim(), 'puzzle');
    if (typeof puzzle === 'string') return puzzle;

    const geometry = this.geometry as SudokuGeometry;
    const conflict = findGridConflict(puzzle, geometry);
    if (conflict) return `puzzle givens conflict: ${conflict}`;

    const solutions = findSolutions(puzzle, geometry, 2);
    if (solutions.length === 0) return 'puzzle has no solution';
    if (solutions.length > 1) return 'puzzle has more than one solution';
    return { puzzle, answer: solutions[0], source: '', rating: Number.NaN };
  }

  private reject(line: number, reason: string): void {
    if ((this.options.badRows ?? 'stop') === 'stop') throw new SudokuDataError(this.file, line, reason);

    this.badRowCount++;
    if (this.badRows.length < (this.options.maxListedBadRows ?? 1000)) {
      this.badRows.push({ file: this.file, line, reason });
    }
  }
}

/** Parses the text of a Sudoku file; fileName only labels errors and bad rows. */
export function parseSudokuText(text: string, fileName: string, options: SudokuReadOptions = {}): SudokuReadResult {
  const parser = new SudokuLineParser(fileName, options);
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && !parser.done; i++) {
    parser.addLine(lines[i], i + 1);
  }
  return parser.finish();
}

/** Reads a Sudoku file in Node, line by line. */
export async function readSudokuFile(path: string, options: SudokuReadOptions = {}): Promise<SudokuReadResult> {
  const { open } = await import('node:fs/promises');
  const parser = new SudokuLineParser(path, options);
  const handle = await open(path, 'r');
  const lines = handle.readLines({ encoding: 'utf8' });
  try {
    let lineNumber = 0;
    for await (const line of lines) {
      if (parser.done) break;
      parser.addLine(line, ++lineNumber);
    }
  } finally {
    lines.close();
    await handle.close();
  }
  return parser.finish();
}
