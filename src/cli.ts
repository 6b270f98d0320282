#!/usr/bin/env node
// The `trm` command line.
import { defaultTask } from './cli/default-task.js';
import { evalCommand } from './cli/eval.js';
import { describeParseError, UsageError } from './cli/options.js';
import { solveCommand } from './cli/solve.js';
import { trainCommand } from './cli/train.js';
import { checkCommand } from './cli/check.js';
import { traceCommand } from './cli/trace.js';
import { readFileSync } from 'node:fs';

const USAGE = `Usage: trm [command] [options]

Commands:
  (none)     The built-in default task: train a small TRM on generated 4×4 Sudoku,
             evaluate it on 1000 held-out puzzles, and solve one step by step
  train      Train on Sudoku data or generated puzzles
  eval       Score a checkpoint on Sudoku puzzles
  solve      Show the recursion on one puzzle
  trace      Write logits, losses, gradients and parameters of K steps on one batch
  check      Print the WebGPU adapter and check the matmul kernels against float64
  help       Show this text
  version    Print the package version (also --version)

Run 'trm COMMAND --help' for a command's options. DEBUG=0…3 sets the log detail.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  train: trainCommand,
  eval: evalCommand,
  solve: solveCommand,
  check: checkCommand,
  trace: traceCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) return defaultTask();
  if (name === 'help' || name === '--help' || name === '-h') {
    console.log(USAGE);
    return 0;
  }

  if (name === 'version' || name === '--version' || name === '-v') {
    console.log(packageVersion());
    return 0;
  }

  const command = COMMANDS[name];
  if (!command) throw new UsageError(`unknown command '${name}'; run 'trm help' for the list`);
  return command(rest);
}

/** Reads the version from package.json, two folders above dist/src/cli.js. */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  return `${manifest.name} ${manifest.version}`;
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => process.exit(code),
  (error: Error & { code?: string }) => {
    const command = argv[0] && COMMANDS[argv[0]] ? `trm ${argv[0]}` : 'trm';
    console.error(`trm: ${describeParseError(error, command) ?? error.message}`);
    const usageError = error instanceof UsageError || Boolean(error.code?.startsWith('ERR_PARSE_ARGS'));
    process.exit(usageError ? 2 : 1);
  },
);
