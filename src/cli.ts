#!/usr/bin/env node
// The `trm` command line.
import { parseArgs } from 'node:util';
import { selfCheck, type Runtime } from './self-check.js';

const USAGE = `Usage: trm [command] [options]

Commands:
  check      Create a WebGPU device, print the adapter, and run every matmul variant
             against the float64 reference (the default command)
  help       Show this text

Options:
  --runtime auto|node|browser
             Where kernels run: 'node' uses Dawn in this process, 'browser' a headless
             Chromium page (needs Chromium installed), 'auto' (default) tries node
  -h, --help Show this text`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      runtime: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });

  const command = positionals[0] ?? 'check';
  if (values.help || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (command !== 'check') {
    console.error(`trm: unknown command '${command}'; run 'trm help' for the list`);
    return 2;
  }

  const runtime = values.runtime as string;
  if (runtime !== 'auto' && runtime !== 'node' && runtime !== 'browser') {
    console.error(`trm: invalid --runtime '${runtime}'; expected auto, node or browser`);
    return 2;
  }

  const report = await selfCheck(runtime as Runtime);
  for (const line of report.lines) console.log(line);
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`trm: ${error.message}`);
    process.exit(1);
  },
);
