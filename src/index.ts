// The package's Node entry point: the browser API plus the helpers that read and write files.
export * from './browser.js';
export { readSudokuFile } from './data/sudoku.js';
export { loadModelCheckpoint, saveModelCheckpoint } from './model/checkpoint.js';
