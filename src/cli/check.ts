// `trm check`: creates a device, prints the adapter, and checks every matmul variant.
import { parseArgs } from 'node:util';
import { selfCheck } from '../self-check.js';
import { choiceOption } from './options.js';

export const CHECK_USAGE = `Usage: trm check [--runtime node|browser]

Creates a WebGPU device, prints the adapter, and checks every matmul variant against a
float64 reference at the shape of a TRM linear layer.

Options:
  --runtime node|browser  'node' uses Dawn in this process (default), 'browser' a headless
                          Chromium page (needs Chromium installed)
  -h, --help              Show this text`;

export async function checkCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { runtime: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(CHECK_USAGE);
    return 0;
  }
  const runtime = choiceOption('runtime', values.runtime, ['node', 'browser'] as const, 'node');
  const report = await selfCheck(runtime);
  for (const line of report.lines) console.log(line);
  return report.ok ? 0 : 1;
}
