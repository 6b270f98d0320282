// Device creation in Node, exercised in child processes so each starts a fresh Dawn instance.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function runNode(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

describe('node device', () => {
  test('import from dist prints adapter line', () => {
    const script = "import('./dist/src/index.js').then(async (trm) => { const gpu = await trm.createGpu(); console.log(trm.describeAdapter(gpu.adapter)); gpu.destroy(); })";
    const result = runNode(['-e', script]);
    expect(result.stderr).not.toMatch(/Error/);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^adapter \(node\): .+; (gpu|software); /m);
  });

  test('node device survives garbage collection', () => {
    for (let run = 0; run < 3; run++) {
      const result = runNode(['--expose-gc', 'kernels-test/fixtures/gc-survival.mjs']);
      expect(result.signal, `run ${run}: ${result.stderr}`).toBeNull();
      expect(result.status, `run ${run}: ${result.stderr}`).toBe(0);
      expect(result.stdout.trim()).toBe('ok');
    }
  });

  test('missing adapter says what to install', () => {
    const script = "import('./dist/src/index.js').then((trm) => trm.createGpu()).catch((error) => { console.error(error.name + ': ' + error.message); process.exit(3); })";
    const result = runNode(['-e', script], { TRM_VULKAN_ICD: '/nonexistent/no_icd.json' });
    expect(result.status).toBe(3);
    expect(result.stderr).toMatch(/AdapterError: no WebGPU adapter found/);
    expect(result.stderr).toMatch(/apt-get install chromium/);
  });
});
