// One verbosity knob for the whole engine, read from the DEBUG environment variable in Node
// or from globalThis.TRM_DEBUG in a browser:
//   0  errors only
//   1  adapter line and warnings (default)
//   2  pipeline creation, buffer allocation and tuning choices
//   3  every dispatch

/** Receives each log line with its level: 0 for errors, higher for information. */
export type LogSink = (line: string, level: number) => void;

let level = readInitialLevel();
let sink: LogSink = defaultSink;

/**
 * Writes to stderr in Node, where stdout carries a command's output. In a browser, lines
 * above level 0 go to console.info, so the adapter line does not show as an error.
 */
function defaultSink(line: string, lineLevel: number): void {
  const browser = typeof window !== 'undefined' && typeof document !== 'undefined';
  if (browser && lineLevel > 0) console.info(line);
  else console.error(line);
}

function readInitialLevel(): number {
  const fromGlobal = (globalThis as { TRM_DEBUG?: unknown }).TRM_DEBUG;
  const fromEnv = typeof process !== 'undefined' ? process.env?.DEBUG : undefined;
  const raw = fromGlobal ?? fromEnv;
  const parsed = Number(raw);
  return raw !== undefined && raw !== '' && Number.isInteger(parsed) ? parsed : 1;
}

export function setDebugLevel(value: number): void {
  level = value;
}

export function debugLevel(): number {
  return level;
}

/** Replaces where log lines go (stderr by default). */
export function setLogSink(next: LogSink): void {
  sink = next;
}

export function log(minLevel: number, line: string): void {
  if (level >= minLevel) sink(`[trm] ${line}`, minLevel);
}
