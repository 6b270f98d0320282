#!/usr/bin/env node
// `npm run demo [-- --port N]`: serves the demo page on localhost until interrupted.
import { parseArgs } from 'node:util';
import { describeParseError } from '../cli/options.js';
import { startDemoServer } from './server.js';

const DEFAULT_PORT = 8080;

let values: { port?: string; help?: boolean };
try {
  ({ values } = parseArgs({ options: { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
} catch (error) {
  console.error(`trm demo: ${describeParseError(error as Error, 'npm run demo --') ?? (error as Error).message}`);
  process.exit(2);
}
if (values.help) {
  console.log(`Usage: npm run demo [-- --port N]\n\nServes the demo page on http://127.0.0.1:N/ (default port ${DEFAULT_PORT}; 0 picks a free one).`);
  process.exit(0);
}

const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`trm demo: --port is '${values.port}', expected a whole number from 0 to 65535`);
  process.exit(2);
}

try {
  const demo = await startDemoServer(port);
  console.log(`demo page: ${demo.url} (open it in Chrome or Edge 113+; Ctrl-C stops the server)`);
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  const hint = code === 'EADDRINUSE' ? `; port ${port} is in use, pick another with --port` : '';
  console.error(`trm demo: the server could not start: ${(error as Error).message}${hint}`);
  process.exit(1);
}
