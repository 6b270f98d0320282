// One verbosity knob for the whole engine, read from the DEBUG environment variable in Node
// or from globalThis.TRM_DEBUG in a browser:
//   0  errors only
//   1  adapter line and warnings (default)
//   2  pipeline creation, buffer allocation and tuning choices
//   3  every dispatch

export type LogSink = (line: string) => void;

let level = readInitialLevel();
let sink: LogSink = (line) => console.error(line);

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
  if (level >= minLevel) sink(`[trm] ${line}`);
}
