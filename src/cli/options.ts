// Parsing helpers shared by the `trm` commands: every invalid value becomes a UsageError,
// which the entry point prints as one line and exits with status 2.
import { SUDOKU_4X4, SUDOKU_6X6, SUDOKU_9X9, type SudokuGeometry } from '../data/sudoku.js';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function integerOption(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) throw new UsageError(`invalid --${name} '${value}': expected an integer ≥ ${min}`);
  return parsed;
}

export function numberOption(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) throw new UsageError(`invalid --${name} '${value}': expected a number from ${min} to ${max}`);
  return parsed;
}

export function choiceOption<T extends string>(name: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!choices.includes(value as T)) throw new UsageError(`invalid --${name} '${value}': expected ${listChoices(choices)}`);
  return value as T;
}

function listChoices(choices: readonly string[]): string {
  return choices.length < 2 ? choices.join('') : `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
}

/**
 * Rewrites an error of node:util parseArgs (code ERR_PARSE_ARGS_*) as one line that names the
 * command and what to do; returns null for any other error.
 */
export function describeParseError(error: Error & { code?: string }, command: string): string | null {
  if (!error.code?.startsWith('ERR_PARSE_ARGS')) return null;
  const option = /'(-[^' ]+)/.exec(error.message)?.[1] ?? 'an option';
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option '${option}' for '${command}'; run '${command} --help' for its options`;
  if (/ambiguous/.test(error.message)) return `${option} needs a value, and a value that starts with '-' must be attached with '=', as in ${option}=VALUE`;
  if (/missing/.test(error.message)) return `${option} needs a value; run '${command} --help' for its options`;
  return `${error.message.split('\n')[0]} (run '${command} --help' for its options)`;
}

export function geometryOption(value: string | undefined): SudokuGeometry {
  const size = choiceOption('size', value, ['4', '6', '9'], '4');
  if (size === '4') return SUDOKU_4X4;
  if (size === '6') return SUDOKU_6X6;
  return SUDOKU_9X9;
}
