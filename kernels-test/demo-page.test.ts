// The browser bundle and the demo page in real headless Chromium. The page loads under its
// strict Content-Security-Policy, rejects a broken checkpoint, and solves with a checkpoint this
// test trains. It trains in the tab with a live chart, pauses, resumes, downloads a checkpoint,
// and explains a browser without WebGPU. A screenshot is saved under test-results/demo/.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateSudoku, generateSudokuSet } from '../src/data/generator.js';
import { formatGrid, SUDOKU_4X4 } from '../src/data/sudoku.js';
import { setMatmulTuning } from '../src/kernels/matmul-tuning.js';
import { decodeModelCheckpoint } from '../src/model/checkpoint.js';
import { chromiumArgs, findChromium, packageRoot } from '../src/runtime/chromium.js';
import { startDemoServer, type DemoServer } from '../src/demo/server.js';
import { TrainingBatcher } from '../src/train/sudoku-batches.js';
import { Trm } from '../src/trm.js';
import { selectedRuntimes } from './runtimes.js';

setMatmulTuning(false);

const SCREENSHOT = join(packageRoot(), 'test-results', 'demo', 'demo-page.png');
const TRAINED_STEPS = 10;
const puzzle = formatGrid(generateSudoku({ seed: 77, geometry: SUDOKU_4X4, difficulty: 1 }).puzzle);

/** Trains a small 4×4 model in Node and returns its checkpoint bytes and its solve of `puzzle`. */
async function trainCheckpoint(): Promise<{ bytes: Uint8Array; qHalt: number[] }> {
  const trm = await Trm.create({ config: 'tiny-mlp', geometry: SUDOKU_4X4, overrides: { batch: 8 }, seed: 3 });
  try {
    const set = generateSudokuSet(64, { seed: 5, geometry: SUDOKU_4X4, difficulty: 1 });
    const batcher = new TrainingBatcher(set, 8, 5, true);
    for (let i = 0; i < TRAINED_STEPS; i++) await trm.trainStep(batcher.next());
    const result = await trm.solve(puzzle);
    return { bytes: await trm.saveCheckpoint(batcher.position), qHalt: result.steps.map((step) => step.qHalt) };
  } finally {
    trm.dispose();
  }
}

async function textOf(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (element) => element.textContent ?? '');
}

async function waitForMessage(page: Page, pattern: RegExp): Promise<string> {
  await page.waitForFunction(() => !(document.getElementById('message') as HTMLElement).hidden, { timeout: 60_000 });
  const message = await textOf(page, '#message');
  expect(message).toMatch(pattern);
  return message;
}

async function openDemo(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 1400 });
  // Records every Content-Security-Policy violation, so a test fails when the bundle needs eval.
  await page.evaluateOnNewDocument(() => {
    const violations: string[] = [];
    (window as unknown as { cspViolations: string[] }).cspViolations = violations;
    document.addEventListener('securitypolicyviolation', (event) => violations.push(`${event.violatedDirective}: ${event.blockedURI}`));
  });
  await page.goto(url);
  return page;
}

const runsInChromium = selectedRuntimes().includes('chromium');

describe.skipIf(!runsInChromium)('demo page in Chromium', () => {
  let server: DemoServer;
  let browser: Browser;
  let page: Page;
  let folder: string;
  let trained: { bytes: Uint8Array; qHalt: number[] };
  const pageErrors: string[] = [];

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'trm-demo-test-'));
    trained = await trainCheckpoint();
    writeFileSync(join(folder, 'trained.safetensors'), trained.bytes);
    writeFileSync(join(folder, 'broken.safetensors'), new Uint8Array([7, 0, 0, 0, 0, 0, 0, 0, 123, 34]));
    mkdirSync(join(folder, 'downloads'));

    server = await startDemoServer(0);
    const puppeteer = await import('puppeteer-core');
    browser = await puppeteer.launch({ executablePath: findChromium(), args: chromiumArgs('auto', join(folder, 'profile')), headless: true });
    page = await openDemo(browser, server.url);
    page.on('pageerror', (error) => pageErrors.push((error as Error).message));
    const session = await page.createCDPSession();
    await session.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: join(folder, 'downloads') });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  test('page starts WebGPU', async () => {
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    expect(await textOf(page, '#adapter')).toMatch(/^adapter \(browser\): /);
    expect(await page.$eval('#message', (element) => (element as HTMLElement).hidden)).toBe(true);
  });

  test('rejects an invalid checkpoint file', async () => {
    const input = await page.$('#checkpoint');
    await (input as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(join(folder, 'broken.safetensors'));
    await waitForMessage(page, /^invalid checkpoint broken\.safetensors: the /);
    expect(await page.$eval('#solve', (element) => (element as HTMLButtonElement).disabled)).toBe(true);
  });

  test('solves with a trained checkpoint', async () => {
    const input = await page.$('#checkpoint');
    await (input as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(join(folder, 'trained.safetensors'));
    await page.waitForFunction(() => /^Solving with trained\.safetensors/.test(document.getElementById('model-info')?.textContent ?? ''), { timeout: 60_000 });
    expect(await textOf(page, '#model-info')).toContain(`trained ${TRAINED_STEPS} steps`);

    await page.$eval('#puzzle', (element, text) => ((element as HTMLTextAreaElement).value = text), puzzle);
    await page.click('#solve');
    await page.waitForFunction((count) => document.querySelectorAll('.step[data-step]').length === count, { timeout: 60_000 }, trained.qHalt.length);

    const cards = await page.$$eval('.step[data-step]', (elements) =>
      elements.map((element) => ({
        cells: element.querySelectorAll('.cell').length,
        changedMarks: element.querySelectorAll('.cell.changed, .cell.conflict').length,
        changed: Number((element as HTMLElement).dataset.changed),
        label: element.querySelector('.qlabel')?.textContent ?? '',
        barWidth: (element.querySelector('.qfill') as HTMLElement).style.width,
      })),
    );
    cards.forEach((card, index) => {
      expect(card.cells, `step ${index + 1} cells`).toBe(16);
      expect(card.changedMarks, `step ${index + 1} highlighted cells`).toBeGreaterThanOrEqual(card.changed > 0 ? 1 : 0);
      expect(card.barWidth, `step ${index + 1} q_halt bar`).toMatch(/^\d+(\.\d)?%$/);
      const displayed = Number(/q_halt (-?\d+\.\d\d)/.exec(card.label)?.[1]);
      expect(Math.abs(displayed - trained.qHalt[index]), `step ${index + 1} q_halt against Node`).toBeLessThan(0.011);
    });
    expect(await textOf(page, '#solve-summary')).toMatch(/q_halt (never rose above 0|first rose above 0 at step \d+)\.$/);
  });

  test('rejects a malformed puzzle', async () => {
    await page.$eval('#puzzle', (element) => ((element as HTMLTextAreaElement).value = '12x'));
    await page.click('#solve');
    await waitForMessage(page, /^The puzzle could not be solved: puzzle has 3 characters, expected 16 for a 4×4 grid/);

    await page.click('#example-9');
    await page.click('#solve');
    await waitForMessage(page, /^The puzzle has 81 cells, but the model in use takes 4×4 grids \(16 cells\)\.$/);
  });

  test('trains, pauses, resumes and downloads', async () => {
    const points = () => page.$eval('#chart', (element) => Number((element as unknown as HTMLElement).dataset.points));
    await page.click('#train');
    await page.waitForFunction(() => Number(document.getElementById('chart')?.dataset.points) >= 2, { timeout: 120_000 });
    expect(await textOf(page, '#train-status')).toMatch(/^step \d+: loss \d+\.\d+, token \d+\.\d%, exact \d+\.\d%, \d+\.\d steps\/s$/);
    expect(await page.$$eval('#chart polyline.loss', (lines) => lines[0].getAttribute('points')?.split(' ').length)).toBeGreaterThanOrEqual(2);

    await page.click('#pause');
    await page.waitForFunction(() => document.getElementById('train')?.textContent === 'Resume', { timeout: 60_000 });
    const pausedPoints = await points();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await points(), 'no progress while paused').toBe(pausedPoints);

    await page.click('#train');
    await page.waitForFunction((before) => Number(document.getElementById('chart')?.dataset.points) > before, { timeout: 120_000 }, pausedPoints);
    await page.click('#pause');
    await page.waitForFunction(() => document.getElementById('train')?.textContent === 'Resume', { timeout: 60_000 });

    await page.click('#download');
    const downloads = join(folder, 'downloads');
    const deadline = Date.now() + 30_000;
    while (!readdirSync(downloads).some((name) => name.endsWith('.safetensors')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const file = readdirSync(downloads).find((name) => name.endsWith('.safetensors'));
    expect(file, 'downloaded checkpoint').toMatch(/^trm-4x4-step\d+\.safetensors$/);
    const checkpoint = decodeModelCheckpoint(readFileSync(join(downloads, file as string)), file as string);
    expect(Number(checkpoint.metadata.step)).toBe(Number(/step(\d+)/.exec(file as string)?.[1]));
    expect(Number(checkpoint.metadata.step)).toBeGreaterThanOrEqual(10);
    expect(checkpoint.config.seqLen).toBe(16);
  });

  test('solves with the model trained in the tab', async () => {
    expect(await textOf(page, '#model-info')).toMatch(/^Solving with the model training in this tab/);
    expect(await page.$eval('#checkpoint', (element) => (element as HTMLInputElement).value), 'file input after the switch').toBe('');
    await page.$eval('#puzzle', (element, text) => ((element as HTMLTextAreaElement).value = text), puzzle);
    await page.$eval('#steps', (element) => element.replaceChildren());
    await page.click('#solve');
    await page.waitForFunction(() => document.querySelectorAll('.step[data-step]').length === 8, { timeout: 60_000 });
  });

  test('saves a screenshot of the page', async () => {
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT as `${string}.png`, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(20_000);
    console.log(`demo screenshot: ${SCREENSHOT}`);
  });

  test('runs without policy violations or page errors', async () => {
    expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  test('bundle API returns every buffer of an app device', async () => {
    // A string, because vitest rewrites import() calls in the functions of this file.
    await page.evaluate(`import('/trm-webgpu.js').then((module) => { window.trmBundle = module; })`);
    const report = await page.evaluate(async () => {
      const trm = (window as unknown as { trmBundle: typeof import('../src/browser.js') }).trmBundle;
      const device: GPUDevice = await trm.requestDevice();
      const live = new Map<GPUBuffer, number>();
      const createBuffer = device.createBuffer.bind(device);
      device.createBuffer = (descriptor: GPUBufferDescriptor) => {
        const buffer = createBuffer(descriptor);
        const destroy = buffer.destroy.bind(buffer);
        buffer.destroy = () => {
          live.delete(buffer);
          destroy();
        };
        live.set(buffer, buffer.size);
        return buffer;
      };
      const liveBytes = () => [...live.values()].reduce((total, size) => total + size, 0);

      const start = liveBytes();
      const set = trm.generateSudokuSet(16, { seed: 2, geometry: trm.SUDOKU_4X4 });
      const model = await trm.Trm.create({ device, config: 'tiny-mlp', geometry: trm.SUDOKU_4X4, overrides: { batch: 4 } });
      const batcher = new trm.TrainingBatcher(set, 4, 2, true);
      await model.trainStep(batcher.next());
      await model.trainStep(batcher.next());
      const metrics = await model.readMetrics();
      const solved = await model.solve(trm.formatGrid(set.puzzles.subarray(0, 16)));
      const evaluation = await model.evaluate(set, { limit: 8 });
      const bytes = await model.saveCheckpoint(batcher.position);
      const loaded = await trm.Trm.load(bytes, { device, overrides: { batch: 1 } });
      const reloaded = await loaded.solve(trm.formatGrid(set.puzzles.subarray(0, 16)));
      const during = liveBytes();
      loaded.dispose();
      model.dispose();

      const probe = device.createBuffer({ size: 64, usage: GPUBufferUsage.STORAGE });
      probe.destroy();
      return {
        start, during, end: liveBytes(), allocated: model.allocatedBytes, step: metrics.step, loss: metrics.loss,
        steps: solved.steps.length, reloadedSteps: reloaded.steps.length, puzzles: evaluation.puzzles, checkpointBytes: bytes.length,
      };
    });

    expect(report.during, 'bytes while two models exist').toBeGreaterThan(report.start);
    expect(report.end, 'bytes after dispose').toBe(report.start);
    expect(report.allocated).toBe(0);
    expect(report.step).toBe(2);
    expect(Number.isFinite(report.loss)).toBe(true);
    expect(report.steps).toBe(8);
    expect(report.reloadedSteps).toBe(8);
    expect(report.puzzles).toBe(8);
    expect(report.checkpointBytes).toBeGreaterThan(1000);
  });

  test('explains a browser without WebGPU', async () => {
    const bare = await browser.newPage();
    try {
      await bare.evaluateOnNewDocument(() => {
        delete (Navigator.prototype as { gpu?: unknown }).gpu;
      });
      await bare.goto(server.url);
      await waitForMessage(bare, /^This browser has no WebGPU \(navigator\.gpu is missing\)/);
      expect(await bare.$eval('#train', (element) => (element as HTMLButtonElement).disabled)).toBe(true);
    } finally {
      await bare.close();
    }
  });
});

describe.skipIf(!runsInChromium)('browser bundle', () => {
  test('contains no eval', () => {
    const code = readFileSync(join(packageRoot(), 'dist', 'browser', 'trm-webgpu.js'), 'utf8');
    expect(code).not.toMatch(/\beval\s*\(/);
    expect(code).not.toMatch(/\bnew\s+Function\s*\(/);
  });
});
