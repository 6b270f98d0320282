// Builds dist/browser/trm-webgpu.js: the browser API (src/browser.ts) as one minified ES
// module with its source map. Node-only modules are replaced by stubs that throw when called,
// because the browser API takes files as bytes and never reaches them. The build fails when
// the bundle contains eval or new Function, which a strict Content-Security-Policy blocks.
import { build } from 'esbuild';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'browser', 'trm-webgpu.js');

/** Resolves node:* modules and the Dawn loader to a module whose every use throws. */
const nodeOnlyStubs = {
  name: 'node-only-stubs',
  setup(builder) {
    builder.onResolve({ filter: /^node:|\/node-gpu\.js$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
    builder.onLoad({ filter: /.*/, namespace: 'node-only' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is only available in Node; in a browser, pass files as bytes`)});`,
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: [join(root, 'src', 'browser.ts')],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  plugins: [nodeOnlyStubs],
  logLevel: 'warning',
});

const code = readFileSync(outfile, 'utf8');
for (const pattern of [/\beval\s*\(/, /\bnew\s+Function\s*\(/]) {
  if (pattern.test(code)) throw new Error(`${outfile} contains ${pattern}, which a strict Content-Security-Policy blocks`);
}
console.log(`browser bundle: ${outfile} (${(statSync(outfile).size / 1024).toFixed(0)} KiB)`);
