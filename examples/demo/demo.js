// The demo page: solves a Sudoku with a checkpoint and shows the grid after every supervision
// step, and trains a small model in the tab with a live chart. It uses only the public API of
// the browser bundle, on one GPUDevice that the page creates and hands to every model.
import {
  createGpu, describeAdapter, formatGrid, generateSudoku, generateSudokuSet, SUDOKU_4X4, SUDOKU_6X6, SUDOKU_9X9,
  splitSudokuSet, TrainingBatcher, Trm,
} from './trm-webgpu.js';

const GEOMETRIES = { 4: SUDOKU_4X4, 6: SUDOKU_6X6, 9: SUDOKU_9X9 };
const HELD_OUT = 200;
const METRICS_EVERY = 5;
const EVALUATE_EVERY = 100;

const $ = (id) => document.getElementById(id);

/** Page state: the device, the loaded model, the training run, and which model Solve uses. */
const state = {
  device: null,
  loaded: null,
  training: null,
  /** 'loaded' or 'training': which model Solve uses. */
  active: null,
  running: false,
};

// ---------------------------------------------------------------------------------------------
// Messages

function showMessage(text, kind = 'error') {
  const box = $('message');
  box.textContent = text;
  box.className = kind === 'error' ? 'message' : 'message info';
  box.hidden = false;
}

function clearMessage() {
  $('message').hidden = true;
}

/** Serialises calls on one model: the engine accepts one call at a time per model. */
function queued(model, body) {
  const run = (model.queue ?? Promise.resolve()).then(body);
  model.queue = run.catch(() => {});
  return run;
}

// ---------------------------------------------------------------------------------------------
// Start-up

async function start() {
  if (!('gpu' in navigator)) {
    $('adapter').textContent = 'WebGPU is not available in this browser.';
    showMessage(
      'This browser has no WebGPU (navigator.gpu is missing), so the model cannot run here. Use Chrome or Edge 113 or ' +
        'later, or a browser with WebGPU turned on, and open the page from https or localhost.',
    );
    return;
  }

  try {
    const gpu = await createGpu();
    state.device = gpu.device;
    $('adapter').textContent = describeAdapter(gpu.adapter);
  } catch (error) {
    $('adapter').textContent = 'WebGPU could not start.';
    showMessage(`WebGPU could not create a device: ${error.message}`);
    return;
  }

  state.device.lost.then((info) => {
    if (info.reason !== 'destroyed') showMessage(`The GPU device was lost (${info.message || info.reason}). Reload the page to start again.`);
    for (const id of ['solve', 'train', 'pause', 'download']) $(id).disabled = true;
  });
  wireControls();
  $('train').disabled = false;
  document.body.dataset.ready = 'true';
}

function wireControls() {
  for (const size of [4, 6, 9]) $(`example-${size}`).addEventListener('click', () => showExample(size));
  $('checkpoint').addEventListener('change', () => loadCheckpoint($('checkpoint').files[0]));
  $('solve').addEventListener('click', () => solveCurrent());
  $('train').addEventListener('click', () => train());
  $('pause').addEventListener('click', () => (state.running = false));
  $('download').addEventListener('click', () => downloadCheckpoint());
  showExample(4);
}

function showExample(size) {
  const example = generateSudoku({ seed: Math.floor(Math.random() * 2 ** 31), geometry: GEOMETRIES[size], difficulty: 0.6 });
  $('puzzle').value = formatGrid(example.puzzle);
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

async function loadCheckpoint(file) {
  if (!file) return;
  clearMessage();
  $('model-info').textContent = `Loading ${file.name}…`;
  try {
    const bytes = await file.arrayBuffer();
    const model = await Trm.load(bytes, { device: state.device, source: file.name, overrides: { batch: 1 } });
    const previous = state.loaded;
    if (previous) queued(previous, () => previous.dispose());
    state.loaded = model;
    useModel('loaded', `Solving with ${file.name}: ${describeModel(model)}.`);
    $('solve').disabled = false;
  } catch (error) {
    $('model-info').textContent = state.active ? $('model-info').textContent : 'No model yet: load a checkpoint, or train one below.';
    // A CheckpointError already names the file.
    showMessage(error.name === 'CheckpointError' ? error.message : `${file.name} is not a valid checkpoint: ${error.message}`);
  }
}

function describeModel(model) {
  const { config } = model;
  const grid = model.geometry ? `${model.geometry.size}×${model.geometry.size}` : `${config.seqLen} cells`;
  return `TRM-${config.variant.toUpperCase()}, hidden ${config.hidden}, ${grid}, trained ${model.step} steps`;
}

async function downloadCheckpoint() {
  const run = state.training;
  if (!run) return;
  const bytes = await queued(run.model, () => run.model.saveCheckpoint(run.batcher.position));
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = `trm-${run.geometry.size}x${run.geometry.size}-step${run.model.step}.safetensors`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---------------------------------------------------------------------------------------------
// Solve and the per-step view

/** Makes Solve use `kind`; a switch clears the steps on screen, since another model made them. */
function useModel(kind, description) {
  if (state.active !== kind) {
    $('steps').replaceChildren();
    $('solve-summary').textContent = '';
    // The file input would otherwise still name a checkpoint that Solve no longer uses.
    if (kind === 'training') $('checkpoint').value = '';
  }
  state.active = kind;
  $('model-info').textContent = description;
}

function activeModel() {
  return state.active === 'loaded' ? state.loaded : state.training?.model ?? null;
}

async function solveCurrent() {
  const model = activeModel();
  if (!model) return;
  clearMessage();
  const text = $('puzzle').value.trim();
  const cells = model.geometry ? model.geometry.size ** 2 : 0;
  if (text.length !== cells && [16, 36, 81].includes(text.length)) {
    const size = model.geometry.size;
    showMessage(`The puzzle has ${text.length} cells, but the model in use takes ${size}×${size} grids (${cells} cells).`);
    return;
  }

  $('solve').disabled = true;
  try {
    const result = await queued(model, () => model.solve(text));
    renderSteps(result);
    renderSummary(result);
  } catch (error) {
    showMessage(`The puzzle could not be solved: ${error.message}`);
  } finally {
    $('solve').disabled = false;
  }
}

function renderSummary(result) {
  const solvedAt = result.steps.findIndex((step) => step.grid.every((value) => value !== 0) && step.conflicts.length === 0);
  const halt = result.haltStep === null ? 'q_halt never rose above 0' : `q_halt first rose above 0 at step ${result.haltStep}`;
  const verdict = result.valid
    ? `The answer is a valid solution (first complete and conflict-free at step ${solvedAt + 1})`
    : `The answer is not valid: ${result.steps.at(-1).conflicts.length} cells break a rule or cells are left blank`;
  $('solve-summary').textContent = `${verdict}; ${halt}.`;
}

function renderSteps(result) {
  const container = $('steps');
  container.replaceChildren();
  container.append(stepCard('Puzzle', result.puzzle, result, {}));
  for (const step of result.steps) container.append(stepCard(`Step ${step.step}`, step.grid, result, step));
}

/** Builds a card with the step's q_halt bar and its grid. The puzzle's own card has no bar. */
function stepCard(title, grid, result, step) {
  const card = document.createElement('div');
  card.className = 'step';
  const heading = document.createElement('h3');
  heading.textContent = title;
  card.append(heading);

  if (step.qHalt !== undefined) {
    card.dataset.step = String(step.step);
    card.dataset.changed = String(step.changed.length);
    card.append(qHaltBar(step.qHalt));
  }
  card.append(gridView(grid, result, step));
  return card;
}

function qHaltBar(qHalt) {
  const probability = 1 / (1 + Math.exp(-qHalt));
  const bar = document.createElement('div');
  bar.className = 'qbar';
  const fill = document.createElement('div');
  fill.className = qHalt > 0 ? 'qfill halt' : 'qfill';
  fill.style.width = `${(probability * 100).toFixed(1)}%`;
  bar.append(fill);

  const label = document.createElement('div');
  label.className = 'qlabel';
  label.textContent = `q_halt ${qHalt.toFixed(2)} (${qHalt > 0 ? 'halt' : 'continue'})`;
  const wrapper = document.createElement('div');
  wrapper.append(bar, label);
  return wrapper;
}

function gridView(grid, result, step) {
  const { size, boxRows, boxCols } = result.geometry;
  const view = document.createElement('div');
  view.className = `grid size-${size}`;
  view.style.gridTemplateColumns = `repeat(${size}, auto)`;
  const changed = new Set(step.changed ?? []);
  const conflicts = new Set(step.conflicts ?? []);

  for (let cell = 0; cell < grid.length; cell++) {
    const row = Math.floor(cell / size);
    const col = cell % size;
    const element = document.createElement('div');
    const classes = ['cell'];
    if ((col + 1) % boxCols === 0 && col + 1 < size) classes.push('box-right');
    if ((row + 1) % boxRows === 0 && row + 1 < size) classes.push('box-bottom');
    if (result.puzzle[cell] !== 0) classes.push('given');
    if (conflicts.has(cell)) classes.push('conflict');
    else if (changed.has(cell)) classes.push('changed');
    element.className = classes.join(' ');
    element.textContent = grid[cell] === 0 ? '' : String(grid[cell]);
    view.append(element);
  }
  return view;
}

// ---------------------------------------------------------------------------------------------
// Training in the tab

async function train() {
  clearMessage();
  const size = Number($('train-size').value);
  if (!state.training || state.training.geometry.size !== size) await startRun(size);
  const run = state.training;
  if (!run) return;

  state.running = true;
  setTrainingButtons(true);
  useModel('training', `Solving with the model training in this tab: ${describeModel(run.model)}.`);
  $('solve').disabled = false;
  try {
    await trainLoop(run);
  } catch (error) {
    showMessage(`Training stopped: ${error.message}`);
  } finally {
    state.running = false;
    setTrainingButtons(false);
    if (state.active === 'training') $('model-info').textContent = `Solving with the model training in this tab: ${describeModel(run.model)}.`;
  }
}

async function startRun(size) {
  const count = Number($('train-count').value);
  if (!Number.isInteger(count) || count < 100 || count > 50000) {
    showMessage(`Generated puzzles is ${$('train-count').value}; expected a whole number from 100 to 50000.`);
    return;
  }

  state.training?.model.dispose();
  state.training = null;
  const geometry = GEOMETRIES[size];
  $('train-status').textContent = `Generating ${count} ${size}×${size} puzzles…`;
  await new Promise((resolve) => setTimeout(resolve, 0));
  const set = generateSudokuSet(count + HELD_OUT, { seed: 1, geometry, difficulty: 1 });
  const [trainSet, heldOut] = splitSudokuSet(set, count);

  const model = await Trm.create({ device: state.device, config: 'tiny-mlp', geometry, seed: 0 });
  state.training = { model, geometry, heldOut, batcher: new TrainingBatcher(trainSet, model.config.batch, 0, true), points: [], evaluations: [] };
  drawChart(state.training);
}

async function trainLoop(run) {
  let started = performance.now();
  let stepsSince = 0;
  while (state.running) {
    // One queued call per step lets a Solve click run between two steps.
    const metrics = await queued(run.model, () => trainStep(run));
    stepsSince++;
    if (!metrics) continue;

    const rate = (stepsSince * 1000) / (performance.now() - started);
    started = performance.now();
    stepsSince = 0;
    showTrainingStatus(run, metrics, rate);
    drawChart(run);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** Runs one step; every METRICS_EVERY steps also reads its metrics (and evaluates) and returns them. */
async function trainStep(run) {
  const { model } = run;
  await model.trainStep(run.batcher.next());
  if (model.step % METRICS_EVERY !== 0) return null;

  const metrics = await model.readMetrics();
  run.points.push({ step: metrics.step, loss: metrics.loss, token: metrics.tokenAccuracy, exact: metrics.exactAccuracy });
  if (metrics.step % EVALUATE_EVERY === 0) {
    const report = await model.evaluate(run.heldOut);
    run.evaluations.push({ step: metrics.step, exact: report.exactAccuracy });
  }
  return metrics;
}

function showTrainingStatus(run, metrics, rate) {
  const percent = (value) => `${(value * 100).toFixed(1)}%`;
  const evaluation = run.evaluations.at(-1);
  const heldOut = evaluation ? `, held-out exact ${percent(evaluation.exact)} at step ${evaluation.step}` : '';
  $('train-status').textContent =
    `step ${metrics.step}: loss ${metrics.loss.toFixed(3)}, token ${percent(metrics.tokenAccuracy)}, ` +
    `exact ${percent(metrics.exactAccuracy)}${heldOut}, ${rate.toFixed(1)} steps/s`;
}

function setTrainingButtons(running) {
  $('train').disabled = running;
  $('train').textContent = state.training && !running ? 'Resume' : 'Train';
  $('pause').disabled = !running;
  $('download').disabled = !state.training || running;
  $('train-size').disabled = running;
  $('train-count').disabled = running;
}

// ---------------------------------------------------------------------------------------------
// Chart: loss on the left axis, accuracies (0 to 1) on the right, both against the step

const SVG = 'http://www.w3.org/2000/svg';
const PLOT = { left: 44, right: 600, top: 16, bottom: 200 };

function drawChart(run) {
  const chart = $('chart');
  chart.replaceChildren();
  chart.dataset.points = String(run.points.length);
  const lastStep = Math.max(METRICS_EVERY, ...run.points.map((point) => point.step));
  const maxLoss = Math.max(1e-6, ...run.points.map((point) => point.loss));
  const x = (step) => PLOT.left + ((PLOT.right - PLOT.left) * step) / lastStep;
  const yLoss = (loss) => PLOT.bottom - ((PLOT.bottom - PLOT.top) * loss) / maxLoss;
  const yAccuracy = (value) => PLOT.bottom - (PLOT.bottom - PLOT.top) * value;

  chart.append(svgElement('line', { class: 'axis', x1: PLOT.left, y1: PLOT.bottom, x2: PLOT.right, y2: PLOT.bottom }));
  chart.append(svgElement('line', { class: 'axis', x1: PLOT.left, y1: PLOT.top, x2: PLOT.left, y2: PLOT.bottom }));
  chart.append(svgText(`loss (max ${maxLoss.toFixed(2)})`, 4, 12));
  chart.append(svgText('accuracy 0–100%', PLOT.right - 70, 12));
  chart.append(svgText(`step ${lastStep}`, PLOT.right - 40, PLOT.bottom + 16));
  chart.append(svgText('orange loss · blue token accuracy · green exact accuracy (dots: held-out)', PLOT.left, 232));

  chart.append(polyline('loss', run.points.map((point) => [x(point.step), yLoss(point.loss)])));
  chart.append(polyline('token', run.points.map((point) => [x(point.step), yAccuracy(point.token)])));
  chart.append(polyline('exact', run.points.map((point) => [x(point.step), yAccuracy(point.exact)])));
  for (const evaluation of run.evaluations) {
    chart.append(svgElement('circle', { class: 'exact', cx: x(evaluation.step), cy: yAccuracy(evaluation.exact), r: 4 }));
  }
}

function polyline(className, points) {
  return svgElement('polyline', { class: className, points: points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ') });
}

function svgText(text, x, y) {
  const element = svgElement('text', { x, y });
  element.textContent = text;
  return element;
}

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

start();
