// Real puzzle files for the data tests, from a shared/data folder outside the repository. The
// folder is found in this order: TRM_SHARED_DATA; shared/data beside the repository; and, for a
// clone of a local checkout (git clone /path/to/checkout /tmp/x), shared/data beside the
// checkout that the clone's origin names.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('..', import.meta.url));

function originCheckout(): string | null {
  try {
    const url = execFileSync('git', ['-C', repositoryRoot, 'remote', 'get-url', 'origin'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const path = url.startsWith('file://') ? fileURLToPath(url) : url;
    // resolve() drops a trailing '/.', which `git clone .` records.
    return isAbsolute(path) ? resolve(path) : null;
  } catch {
    // No git, or no origin remote: the other places still apply.
    return null;
  }
}

function candidateFolders(): string[] {
  const origin = originCheckout();
  return [
    process.env.TRM_SHARED_DATA,
    join(repositoryRoot, '..', 'shared', 'data'),
    origin ? join(dirname(origin), 'shared', 'data') : undefined,
  ].filter((folder): folder is string => Boolean(folder));
}

const candidates = candidateFolders();
const sharedData = candidates.find((folder) => existsSync(folder)) ?? candidates[0];

/** Returns the path of a file under shared/data, or throws naming it when it is missing. */
export function sharedFile(relativePath: string): string {
  const path = join(sharedData, relativePath);
  if (!existsSync(path)) {
    throw new Error(
      `test data ${path} not found: the Sudoku tests read real puzzle files from shared/data (looked in ${candidates.join(', ')}); set TRM_SHARED_DATA to the folder`,
    );
  }
  return path;
}
