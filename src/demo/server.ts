// The demo page's HTTP server: examples/demo/ and the browser bundle on a loopback port. Every
// response carries a Content-Security-Policy that allows no inline script, no eval and no other
// origin, so the page also shows that the bundle runs under a strict policy.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { packageRoot } from '../runtime/chromium.js';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** URL path → file, relative to the package root. Nothing else is served. */
const ROUTES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'examples/demo/index.html', type: 'text/html; charset=utf-8' },
  '/demo.js': { file: 'examples/demo/demo.js', type: 'text/javascript; charset=utf-8' },
  '/demo.css': { file: 'examples/demo/demo.css', type: 'text/css; charset=utf-8' },
  '/trm-webgpu.js': { file: 'dist/browser/trm-webgpu.js', type: 'text/javascript; charset=utf-8' },
  '/trm-webgpu.js.map': { file: 'dist/browser/trm-webgpu.js.map', type: 'application/json' },
};

export interface DemoServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1; port 0 picks a free one. */
export async function startDemoServer(port = 0): Promise<DemoServer> {
  const root = packageRoot();
  const bundle = join(root, ROUTES['/trm-webgpu.js'].file);
  if (!existsSync(bundle)) throw new Error(`browser bundle not found at ${bundle}; run 'npm run build' first`);

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    const route = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
    if (!route || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    response.writeHead(200, {
      'content-type': route.type,
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'cache-control': 'no-store',
    });
    response.end(readFileSync(join(root, route.file)));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as { port: number };
  return {
    server,
    url: `http://127.0.0.1:${address.port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
