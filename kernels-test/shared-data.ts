// Real puzzle files for the data tests, from the shared/data folder beside the repository.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const sharedData = fileURLToPath(new URL('../../shared/data/', import.meta.url));

/** Returns the path of a file under shared/data, or throws naming it when it is missing. */
export function sharedFile(relativePath: string): string {
  const path = join(sharedData, relativePath);
  if (!existsSync(path)) throw new Error(`test data ${path} not found: the Sudoku tests read real puzzle files from shared/data beside the repository`);
  return path;
}
