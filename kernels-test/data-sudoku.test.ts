import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  answerAt,
  BLANK_TOKEN,
  countGivens,
  decodeTokens,
  encodeGrid,
  encodeSet,
  findGridConflict,
  formatGrid,
  geometryFromLength,
  isSolutionOf,
  PAD_TOKEN,
  parseGrid,
  parseSudokuText,
  puzzleAt,
  readSudokuFile,
  SUDOKU_4X4,
  SUDOKU_6X6,
  SUDOKU_9X9,
  SudokuDataError,
  vocabSize,
  type SudokuSet,
} from '../src/data/sudoku.js';
import { solve } from '../src/data/solver.js';
import { sharedFile } from './shared-data.js';



const tempFolder = mkdtempSync(join(tmpdir(), 'trm-sudoku-'));
afterAll(() => rmSync(tempFolder, { recursive: true, force: true }));

function writeTemp(name: string, lines: string[]): string {
  const path = join(tempFolder, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

function expectAllSolved(set: SudokuSet): void {
  for (let i = 0; i < set.count; i++) {
    expect(isSolutionOf(puzzleAt(set, i), answerAt(set, i), set.geometry), `example ${i}`).toBe(true);
  }
}

// A valid 9×9 grid, a puzzle made from it, and a 4×4 and 6×6 pair.
const SOLVED_9 = '846712935372695184195483267984237651517964823263851749728549316439126578651378492';
const PUZZLE_9 = '...7.2..5....95.8.19..8..67..4...6....79...2.26...1......5......39.....8....784..';
const SOLVED_4 = '1234341221434321';
const SOLVED_6 = '123456456123231564564231312645645312';

describe('Sudoku encoding', () => {
  test('tokens shift values by one', () => {
    const grid = parseGrid('1.3.' + '.'.repeat(12));
    const tokens = encodeGrid(grid);

    expect(Array.from(tokens.subarray(0, 4))).toEqual([2, BLANK_TOKEN, 4, BLANK_TOKEN]);
    expect(PAD_TOKEN).toBe(0);
    expect(Array.from(decodeTokens(tokens, SUDOKU_4X4))).toEqual(Array.from(grid));
  });

  test('vocabulary size is N + 2', () => {
    expect(vocabSize(SUDOKU_9X9)).toBe(11);
    expect(vocabSize(SUDOKU_6X6)).toBe(8);
    expect(vocabSize(SUDOKU_4X4)).toBe(6);
  });

  test('geometry detected from length', () => {
    expect(geometryFromLength(16)).toBe(SUDOKU_4X4);
    expect(geometryFromLength(36)).toBe(SUDOKU_6X6);
    expect(geometryFromLength(81)).toBe(SUDOKU_9X9);
    expect(SUDOKU_6X6).toMatchObject({ boxRows: 2, boxCols: 3 });
    expect(() => geometryFromLength(80)).toThrow(/80 characters, expected one of 16, 36, 81/);
  });

  test('decode rejects pad and large tokens', () => {
    expect(() => decodeTokens([PAD_TOKEN, 2], SUDOKU_4X4)).toThrow(/token 0 at position 0 is invalid/);
    expect(() => decodeTokens([2, 6], SUDOKU_4X4)).toThrow(/token 6 at position 1 is invalid: expected 1 \(blank\) to 5/);
  });

  test('grid text round trip', () => {
    expect(formatGrid(parseGrid(PUZZLE_9))).toBe(PUZZLE_9);
    expect(formatGrid(parseGrid(PUZZLE_9.replaceAll('.', '0')))).toBe(PUZZLE_9);
  });

  test('grid parse rejects digits above N', () => {
    expect(() => parseGrid('5' + '.'.repeat(15))).toThrow(/invalid character "5" at position 1: expected a digit 1-4/);
  });

  test('6×6 boxes are 2 rows by 3 columns', () => {
    const solved = parseGrid(SOLVED_6);
    expect(findGridConflict(solved, SUDOKU_6X6)).toBeNull();

    // Rows 1-2 and columns 1-3 form box 1, so a repeat across those rows is a box conflict.
    const grid = new Uint8Array(36);
    grid[0] = 5;
    grid[6 + 2] = 5;
    expect(findGridConflict(grid, SUDOKU_6X6)).toBe('digit 5 appears twice in box 1');

    // Rows 1 and 3 are in different bands, so the same placement there is allowed.
    grid[6 + 2] = 0;
    grid[12 + 2] = 5;
    expect(findGridConflict(grid, SUDOKU_6X6)).toBeNull();
  });

  test('solution checks cover rows, columns, boxes', () => {
    expect(isSolutionOf(parseGrid(PUZZLE_9), parseGrid(SOLVED_9), SUDOKU_9X9)).toBe(true);
    expect(isSolutionOf(new Uint8Array(16), parseGrid(SOLVED_4), SUDOKU_4X4)).toBe(true);

    const swapped = SOLVED_9.slice(0, 3) + SOLVED_9[4] + SOLVED_9[3] + SOLVED_9.slice(5);
    expect(isSolutionOf(new Uint8Array(81), parseGrid(swapped), SUDOKU_9X9)).toBe(false);
  });
});

describe('Sudoku readers on real files', () => {
  test('Sudoku-Extreme 1k CSV has 1000 valid rows', async () => {
    const result = await readSudokuFile(sharedFile('sudoku/sudoku_extreme_train_1k.csv'));

    expect(result.format).toBe('plain-csv');
    expect(result.set.geometry).toBe(SUDOKU_9X9);
    expect(result.set.count).toBe(1000);
    expect(result.badRowCount).toBe(0);
    expect(result.set.sources[0]).toBe('sudoku_extreme_train');
    expect(result.set.lines[0]).toBe(2);
    expect(formatGrid(puzzleAt(result.set, 0))).toBe(PUZZLE_9);
    expectAllSolved(result.set);

    const givens = Array.from({ length: result.set.count }, (_, i) => countGivens(puzzleAt(result.set, i)));
    expect(Math.min(...givens)).toBe(17);
    expect(Math.max(...givens)).toBe(35);
  });

  test('Kaggle CSV uses 0 for blanks', async () => {
    const kaggle = await readSudokuFile(sharedFile('sudoku/raw/kaggle_bryanpark_1m_first20000/sudoku_first20000.csv'), { limit: 300 });
    const plain = await readSudokuFile(sharedFile('sudoku/easy_kaggle_20000.csv'), { limit: 300, checkUnique: true });

    expect(kaggle.format).toBe('kaggle-csv');
    expect(kaggle.set.count).toBe(300);
    expect(plain.set.count).toBe(300);
    expect(kaggle.set.puzzles).toEqual(plain.set.puzzles);
    expect(kaggle.set.answers).toEqual(plain.set.answers);
    expectAllSolved(kaggle.set);
  });

  test('tdoku hard list is solved uniquely', async () => {
    const result = await readSudokuFile(sharedFile('sudoku/raw/tdoku/puzzles5_forum_hardest_1905_11+.txt'), { limit: 300 });

    expect(result.format).toBe('puzzle-list');
    expect(result.set.count).toBe(300);
    expect(result.badRowCount).toBe(0);
    expect(result.set.lines[299]).toBe(300);
    expectAllSolved(result.set);
  });

  test('tdoku list skips comment lines', async () => {
    const result = await readSudokuFile(sharedFile('sudoku/raw/tdoku/puzzles2_17_clue.txt'), { limit: 50 });

    expect(result.set.count).toBe(50);
    expect(result.set.lines[0]).toBe(5);
    expect(countGivens(puzzleAt(result.set, 0))).toBe(17);
    expectAllSolved(result.set);
  });

  test('serg benchmark rows are all bad', async () => {
    const path = sharedFile('sudoku/raw/tdoku/puzzles7_serg_benchmark.txt');
    const result = await readSudokuFile(path, { badRows: 'skip' });

    expect(result.set.count).toBe(0);
    expect(result.badRowCount).toBe(10000);
    expect(result.badRows).toHaveLength(1000);
    expect(result.badRows[0]).toEqual({ file: path, line: 3, reason: 'puzzle has more than one solution' });
    expect(result.badRows.every((row) => row.reason === 'puzzle has more than one solution')).toBe(true);
  });

  test('serg benchmark stops at first row', async () => {
    const path = sharedFile('sudoku/raw/tdoku/puzzles7_serg_benchmark.txt');
    await expect(readSudokuFile(path)).rejects.toThrow(`${path}:3: puzzle has more than one solution`);
  });

  test('missing shared file fails clearly', () => {
    expect(() => sharedFile('sudoku/no-such-file.csv')).toThrow(/not found: the Sudoku tests read real puzzle files/);
  });
});

describe('Sudoku readers on malformed rows', () => {
  // Swapping two digits everywhere keeps the grid valid but changes the given 7 in row 1.
  const contradicting = SOLVED_9.replace(/[79]/g, (digit) => (digit === '7' ? '9' : '7'));
  const invalidAnswer = SOLVED_9.slice(0, 80) + SOLVED_9[79];
  const lines = [
    'question,answer,source',
    `${PUZZLE_9},${SOLVED_9},good`,
    `${PUZZLE_9.slice(1)},${SOLVED_9},short`,
    `${PUZZLE_9.slice(0, 10)}x${PUZZLE_9.slice(11)},${SOLVED_9},letter`,
    `${PUZZLE_9},${'.' + SOLVED_9.slice(1)},blank-answer`,
    `${PUZZLE_9},${'4' + SOLVED_9.slice(1)},changed-blank-cell`,
    `${PUZZLE_9},${contradicting},contradiction`,
    `${PUZZLE_9},${invalidAnswer},invalid-answer`,
    `${PUZZLE_9},${SOLVED_9}`,
    '',
    `${PUZZLE_9},${SOLVED_9},"quoted, with comma"`,
  ];

  test('skip mode lists each bad row', async () => {
    const path = writeTemp('malformed.csv', lines);
    const result = await readSudokuFile(path, { badRows: 'skip' });

    expect(result.set.count).toBe(2);
    expect(result.set.sources).toEqual(['good', 'quoted, with comma']);
    expect(result.set.lines).toEqual([2, 11]);
    expect(result.badRowCount).toBe(7);
    expect(result.badRows.map((row) => `${row.file}:${row.line}: ${row.reason}`)).toEqual([
      `${path}:3: question has 80 characters, expected 81 for a 9×9 grid`,
      `${path}:4: question has an invalid character "x" at position 11: expected a digit 1-9, or '.' or '0' for a blank`,
      `${path}:5: answer is not a valid solved grid: the cell at row 1, column 1 is blank`,
      `${path}:6: answer is not a valid solved grid: digit 4 appears twice in row 1`,
      `${path}:7: answer contradicts the question: the given at row 1, column 4 is 7 but the answer has 9`,
      `${path}:8: answer is not a valid solved grid: digit 9 appears twice in row 9`,
      `${path}:9: expected 3 comma-separated fields (question,answer,source), found 2`,
    ]);
  });

  test('stop mode throws at first bad row', async () => {
    const path = writeTemp('malformed-stop.csv', lines);
    const read = readSudokuFile(path);

    await expect(read).rejects.toBeInstanceOf(SudokuDataError);
    await expect(read).rejects.toThrow(`${path}:3: question has 80 characters, expected 81 for a 9×9 grid`);
  });

  test('text parser matches file reader', async () => {
    const path = writeTemp('malformed-text.csv', lines);
    const fromFile = await readSudokuFile(path, { badRows: 'skip' });
    const fromText = parseSudokuText(lines.join('\r\n'), path, { badRows: 'skip' });

    expect(fromText.set.puzzles).toEqual(fromFile.set.puzzles);
    expect(fromText.badRows).toEqual(fromFile.badRows);
  });

  test('Sudoku-Extreme layout reads ratings', () => {
    const text = ['source,question,answer,rating', `tdoku,${PUZZLE_9},${SOLVED_9},23`, `tdoku,${PUZZLE_9},${SOLVED_9},many`].join('\n');
    const result = parseSudokuText(text, 'extreme.csv', { badRows: 'skip' });

    expect(result.format).toBe('sudoku-extreme-csv');
    expect(result.set.ratings).toEqual([23]);
    expect(result.set.sources).toEqual(['tdoku']);
    expect(result.badRows).toEqual([{ file: 'extreme.csv', line: 3, reason: "rating 'many' is not a number" }]);
  });

  test('uniqueness checked only on request', () => {
    // The first serg benchmark puzzle with one of its solutions: a valid answer, not a unique one.
    const serg = readFileSync(sharedFile('sudoku/raw/tdoku/puzzles7_serg_benchmark.txt'), 'utf8').split('\n')[2];
    const answer = formatGrid(solve(parseGrid(serg), SUDOKU_9X9) ?? []);
    const csv = `question,answer\n${serg},${answer}`;
    expect(parseSudokuText(csv, 'a.csv').set.count).toBe(1);
    expect(() => parseSudokuText(csv, 'a.csv', { checkUnique: true })).toThrow('a.csv:2: question has more than one solution');
  });

  test('list reports conflicting and unsolvable puzzles', () => {
    const conflicting = '11' + '.'.repeat(79);
    // Givens 1-8 in row 1 leave 9 for the last cell, but column 9 already has a 9.
    const unsolvable = '12345678.' + '........9' + '.'.repeat(63);
    const result = parseSudokuText(['# comment', conflicting, unsolvable, PUZZLE_9].join('\n'), 'list.txt', { badRows: 'skip' });

    expect(result.set.count).toBe(1);
    expect(formatGrid(answerAt(result.set, 0))).toBe(SOLVED_9);
    expect(result.badRows).toEqual([
      { file: 'list.txt', line: 2, reason: 'puzzle givens conflict: digit 1 appears twice in row 1' },
      { file: 'list.txt', line: 3, reason: 'puzzle has no solution' },
    ]);
  });

  test('unknown header is rejected', () => {
    expect(() => parseSudokuText('puzzle,solution\n', 'x.csv')).toThrow(/^x\.csv:1: unknown CSV header 'puzzle,solution': expected one of 'source,question,answer,rating'/);
  });

  test('limit stops reading', () => {
    const text = ['question,answer', ...Array.from({ length: 5 }, () => `${PUZZLE_9},${SOLVED_9}`)].join('\n');
    expect(parseSudokuText(text, 'a.csv', { limit: 3 }).set.count).toBe(3);
    expect(parseSudokuText(text, 'a.csv', { limit: 0 }).set.count).toBe(0);
    expect(() => parseSudokuText(text, 'a.csv', { limit: -1 })).toThrow(/limit -1 is invalid/);
  });

  test('small geometries detected per file', () => {
    const text = ['question,answer', `1..4..1..1..4..1,${SOLVED_4}`, `${'.'.repeat(36)},${SOLVED_6}`].join('\n');
    const result = parseSudokuText(text, 'small.csv', { badRows: 'skip' });

    expect(result.set.geometry).toBe(SUDOKU_4X4);
    expect(result.set.count).toBe(1);
    expect(result.badRows[0].reason).toBe('question has 36 characters, expected 16 for a 4×4 grid');
    expect(Array.from(encodeSet(result.set).labels)).toEqual(Array.from(encodeGrid(parseGrid(SOLVED_4))));
  });

  test('empty file is an error', () => {
    expect(() => parseSudokuText('# only a comment\n', 'empty.txt')).toThrow('empty.txt:1: the file contains no CSV header and no puzzle lines');
  });
});
