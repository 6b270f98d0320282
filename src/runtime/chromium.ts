// Hosts the engine in a headless Chromium page, driven from Node through puppeteer-core.
// The page loads the compiled package from a loopback HTTP server and runs kernels there, on
// Chromium's own WebGPU implementation (a real GPU, or SwiftShader on machines without one).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import { log } from '../log.js';
import { AdapterError } from '../gpu/errors.js';
import type { AdapterSummary } from '../gpu/gpu.js';
import { describeAdapter } from '../gpu/device.js';
import type { OpOutputs, OpRequest, WireOpRequest } from '../testing/op-runner.js';
import { decodeMessage, encodeMessage, fromWire, toWire, type WireTensor } from '../testing/wire.js';
import { hasGpuDevice } from '../gpu/vulkan-icd.js';

export type ChromiumAdapter = 'auto' | 'swiftshader' | 'gpu';

export interface ChromiumOptions {
  /** Path to a Chromium or Chrome binary; default: TRM_CHROMIUM, then the usual install paths. */
  executablePath?: string;
  /** 'swiftshader' forces the software adapter; 'auto' uses it only on a machine with no GPU. */
  adapter?: ChromiumAdapter;
  /**
   * HTML served at /host.html in place of the engine's host page. It must set window.trmHost
   * as that page does ({ gpu, summary } or { error }); it may also load the files in PAGE_FILES.
   */
  hostPage?: string;
  /** Milliseconds one page.evaluate may take (puppeteer's protocolTimeout; its default is 180 s). */
  protocolTimeout?: number;
  /**
   * Whether puppeteer closes Chromium when this process gets SIGINT (default true). A caller
   * with its own Ctrl-C handling passes false and closes the host itself.
   */
  closeOnSigint?: boolean;
}

const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.map': 'application/json',
  '.html': 'text/html',
  '.json': 'application/json',
  '.wgsl': 'text/plain',
};

/**
 * The only files outside dist/ that a page may load, by URL: the TensorFlow.js bundles the
 * benchmark compares against (devDependencies, so present only in a development checkout).
 */
export const PAGE_FILES: Readonly<Record<string, string>> = {
  '/vendor/tf.min.js': 'node_modules/@tensorflow/tfjs/dist/tf.min.js',
  '/vendor/tf-backend-webgpu.min.js': 'node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js',
};

// The page that hosts the engine. It exposes the loaded modules and one Gpu as window.trmHost.
const HOST_PAGE = `<!doctype html><meta charset="utf-8"><title>trm-webgpu host</title>
<script type="module">
  const engine = await import('/dist/src/index.js');
  const testing = await import('/dist/src/testing/op-runner.js');
  const training = await import('/dist/src/runtime/page-training.js');
  try {
    const gpu = await engine.createGpu();
    window.trmHost = { engine, testing, training, gpu, summary: gpu.adapter };
  } catch (error) {
    window.trmHost = { error: String(error && error.message || error) };
  }
</script>`;

export function findChromium(explicit?: string): string {
  const candidates = [explicit, process.env.TRM_CHROMIUM, process.env.PUPPETEER_EXECUTABLE_PATH, ...CHROMIUM_PATHS].filter(Boolean) as string[];
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new AdapterError(
      `Chromium not found (looked in ${candidates.join(', ')}); install it (Debian: apt-get install chromium) or set TRM_CHROMIUM to its path`,
    );
  }
  return found;
}

export function chromiumArgs(adapter: ChromiumAdapter, userDataDir: string): string[] {
  const args = [
    '--headless=new',
    '--no-sandbox',
    '--enable-unsafe-webgpu',
    // Without this, Chromium rounds timestamp queries to 100 µs.
    '--disable-dawn-features=timestamp_quantization',
    // The machines this runs on may have no network: these stop Chromium from retrying
    // update, sync and metrics connections for the whole session.
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    `--user-data-dir=${userDataDir}`,
  ];
  const software = adapter === 'swiftshader' || (adapter === 'auto' && !hasGpuDevice());
  if (software) args.push('--use-webgpu-adapter=swiftshader');
  else args.push('--enable-features=Vulkan', '--ignore-gpu-blocklist');
  return args;
}

/** A headless Chromium page with the engine loaded and a device created. */
export class ChromiumHost {
  private constructor(
    private readonly browser: Browser,
    readonly page: Page,
    private readonly server: Server,
    private readonly userDataDir: string,
    readonly adapter: AdapterSummary,
  ) {}

  static async launch(options: ChromiumOptions = {}): Promise<ChromiumHost> {
    const executablePath = findChromium(options.executablePath);
    const puppeteer = await import('puppeteer-core');
    const server = await serveDist(packageRoot(), options.hostPage ?? HOST_PAGE);
    const userDataDir = mkdtempSync(join(tmpdir(), 'trm-chromium-'));
    const port = (server.address() as { port: number }).port;

    let browser: Browser | null = null;
    try {
      const args = chromiumArgs(options.adapter ?? 'auto', userDataDir);
      browser = await puppeteer.launch({
        executablePath,
        args,
        headless: true,
        handleSIGINT: options.closeOnSigint ?? true,
        ...(options.protocolTimeout ? { protocolTimeout: options.protocolTimeout } : {}),
      });
      const page = await browser.newPage();
      page.on('console', (message) => log(2, `page: ${message.text()}`));
      page.on('pageerror', (error) => log(0, `page error: ${(error as Error).message}`));
      await page.goto(`http://127.0.0.1:${port}/host.html`);
      await page.waitForFunction('window.trmHost !== undefined', { timeout: 60_000 });
      const state = await page.evaluate(() => {
        const host = (window as unknown as { trmHost: { error?: string; summary?: AdapterSummary } }).trmHost;
        return { error: host.error, summary: host.summary };
      });
      if (state.error || !state.summary) throw new AdapterError(`Chromium could not create a WebGPU device: ${state.error}`);
      log(1, `${describeAdapter(state.summary)}; Chromium ${await browser.version()}`);
      return new ChromiumHost(browser, page, server, userDataDir, state.summary);
    } catch (error) {
      await browser?.close();
      server.close();
      rmSync(userDataDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Runs one op inside the page, through the same op runner as Node. */
  async runOp(request: OpRequest): Promise<OpOutputs> {
    const wire: WireOpRequest = {
      op: request.op,
      params: request.params,
      inputs: Object.fromEntries(Object.entries(request.inputs).map(([name, data]) => [name, toWire(data)])),
    };
    const outputs = await this.page.evaluate((message: WireOpRequest) => {
      const host = (window as unknown as { trmHost: { gpu: unknown; testing: { runWireOp: (gpu: unknown, message: WireOpRequest) => Promise<Record<string, WireTensor>> } } }).trmHost;
      return host.testing.runWireOp(host.gpu, message);
    }, wire);
    return Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, fromWire(tensor)]));
  }

  /**
   * Calls the page's training module (page-training.ts) with `args` and returns its result;
   * typed arrays cross both ways bit for bit. A failure inside the page, a kernel error or a
   * lost device included, rejects with one line that names the call.
   */
  async callTraining(method: string, args: unknown[]): Promise<unknown> {
    let result: unknown;
    try {
      result = await this.page.evaluate(
        (name: string, message: unknown) => {
          const host = (window as unknown as { trmHost: { gpu: unknown; training?: { callTraining: (gpu: unknown, name: string, message: unknown) => Promise<unknown> } } }).trmHost;
          if (!host.training) throw new Error('the host page did not load the training module');
          return host.training.callTraining(host.gpu, name, message);
        },
        method,
        encodeMessage(args),
      );
    } catch (error) {
      const firstLine = String((error as Error).message ?? error).split('\n')[0];
      throw new Error(`browser runtime: ${method} failed in Chromium: ${firstLine}`);
    }
    return decodeMessage(result);
  }

  async close(): Promise<void> {
    await this.browser.close();
    this.server.close();
    rmSync(this.userDataDir, { recursive: true, force: true });
  }
}

/** Finds the folder that contains this package's package.json, from src/ or dist/src/. */
export function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    const manifest = join(folder, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'trm-webgpu') return folder;
    folder = dirname(folder);
  }
  throw new Error(`package root of trm-webgpu not found above ${fileURLToPath(import.meta.url)}`);
}

/** Serves the host page, the compiled dist/ folder and PAGE_FILES on a random loopback port. */
function serveDist(root: string, hostPage: string): Promise<Server> {
  const distRoot = join(root, 'dist');
  if (!existsSync(join(distRoot, 'src', 'index.js'))) {
    throw new Error(`compiled engine not found at ${distRoot}; run 'npm run build' first`);
  }
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/host.html') {
      response.writeHead(200, { 'content-type': 'text/html' }).end(hostPage);
      return;
    }
    const listed = Object.hasOwn(PAGE_FILES, url.pathname) ? PAGE_FILES[url.pathname] : undefined;
    const path = listed ? join(root, listed) : normalize(join(root, decodeURIComponent(url.pathname)));
    if ((!listed && !path.startsWith(distRoot + sep)) || !existsSync(path) || !statSync(path).isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream' });
    response.end(readFileSync(path));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
