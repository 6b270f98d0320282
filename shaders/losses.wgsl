// Losses with their gradients in one pass: token cross-entropy (stable-max or softmax) for the
// output head, and binary cross-entropy with logits for the halting head. Each kernel writes the
// per-row loss and the gradient of `loss_scale · Σ_rows loss_row` with respect to its logits.
//
// Non-finite inputs are recognised by their bits, never by arithmetic, because WGSL lets an
// implementation assume that no NaN or infinity occurs. SwiftShader 5.0.0 (through Dawn in the
// webgpu 0.6.2 package) returns max(NaN, 1) = 1 and exp(NaN) = +∞, and evaluates x != x to false.

struct Params {
  batch: u32,
  seq: u32,    // 1 for the binary cross-entropy
  vocab: u32,  // 1 for the binary cross-entropy
  loss_scale: f32,
}

// true: stable-max cross-entropy as the reference stablemax_cross_entropy; false: softmax.
override STABLEMAX: bool = true;

const WORKGROUP = 64u;
const IGNORE_LABEL = -100;
const LARGEST_F32 = 3.4028234e38;

// Below this scaled score the log of the label's probability is taken in the log domain, where
// subnormals (which WGSL may flush to zero) cannot turn a finite loss into +∞.
const SMALLEST_SAFE_SCORE = 1e-30;

fn is_nan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn is_positive_infinity(x: f32) -> bool {
  return bitcast<u32>(x) == 0x7f800000u;
}

fn is_negative_infinity(x: f32) -> bool {
  return bitcast<u32>(x) == 0xff800000u;
}

// Built from a runtime value, because a NaN or infinite constant expression fails shader creation.
fn nan() -> f32 {
  let bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}

fn infinity() -> f32 {
  let bits = 0x7f800000u;
  return bitcast<f32>(bits);
}

// ---------------------------------------------------------------------------------------
// Token cross-entropy. One workgroup per sequence. Its invocations stride over the tokens and
// each handles one token's whole vocab row, so any vocab size works.
// Dispatch: batch workgroups, folded into x and y.
//
// Stable-max: s(l) = 1 + l for l ≥ 0 and 1 / (1 − l) for l < 0, p_j = s(l_j) / Σ_k s(l_k). The
// reference adds 1e-30 to 1 − l, which cannot change an f32 or f64 result because 1 − l > 1.
// Since s'/s = 1 / (1 + |l|) on both branches, d(−log p_y)/dl_j = (p_j − [j = y]) / (1 + |l_j|).
// Softmax: p_j = exp(l_j) / Σ_k exp(l_k) and d(−log p_y)/dl_j = p_j − [j = y].
//
// Per sequence: loss = Σ_valid token_loss / max(1, valid). A token is valid unless its label is
// IGNORE_LABEL, and ignored tokens get a zero gradient row. Edge definitions, shared with the
// float64 reference in src/kernels/losses.ts:
// - a NaN or +∞ logit, or a label outside [0, vocab), makes the token's loss and gradient row
//   NaN, and so the sequence's loss (an ignored token never propagates anything);
// - a −∞ logit has probability 0 and, for stable-max, gradient 0; a label on it costs +∞;
// - a row whose logits are all −∞ is the limit of equal logits going to −∞: probabilities
//   1/vocab, loss log(vocab), and gradient 0 (stable-max) or 1/vocab − [j = y] (softmax).

@group(0) @binding(0) var<storage, read> logits: array<f32>;          // [batch, seq, vocab]
@group(0) @binding(1) var<storage, read> labels: array<i32>;          // [batch, seq]
@group(0) @binding(2) var<storage, read_write> seq_loss: array<f32>;  // [batch]
@group(0) @binding(3) var<storage, read_write> d_logits: array<f32>;  // [batch, seq, vocab]
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> partial_sums: array<vec2f, WORKGROUP>;

fn workgroup_sum(value: vec2f, local: u32) -> vec2f {
  partial_sums[local] = value;
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
    if (local < stride) { partial_sums[local] += partial_sums[local + stride]; }
    workgroupBarrier();
  }
  let total = partial_sums[0];
  workgroupBarrier();
  return total;
}

// s(l) / s(max_logit) for stable-max, exp(l − max_logit) for softmax: in [0, 1], without the
// overflow or underflow of the unscaled scores.
fn scaled_score(l: f32, max_logit: f32) -> f32 {
  if (!STABLEMAX) { return exp(l - max_logit); }
  if (max_logit < 0.0) { return (1.0 - max_logit) / (1.0 - l); }
  if (l >= 0.0) { return (1.0 + l) / (1.0 + max_logit); }
  return (1.0 / (1.0 - l)) / (1.0 + max_logit);
}

fn log_stablemax_score(l: f32) -> f32 {
  return sign(l) * log(1.0 + abs(l));
}

fn log_scaled_score(l: f32, max_logit: f32) -> f32 {
  if (!STABLEMAX) { return l - max_logit; }
  let score = scaled_score(l, max_logit);
  if (score >= SMALLEST_SAFE_SCORE) { return log(score); }
  return log_stablemax_score(l) - log_stablemax_score(max_logit);
}

// d log s(l) / dl.
fn score_slope(l: f32) -> f32 {
  if (!STABLEMAX) { return 1.0; }
  if (is_negative_infinity(l)) { return 0.0; }
  return 1.0 / (1.0 + abs(l));
}

fn fill_gradient_row(row: u32, value: f32) {
  for (var j = 0u; j < p.vocab; j++) { d_logits[row + j] = value; }
}

// Writes the token's gradient row scaled by gradient_scale and returns its loss.
fn token_cross_entropy(token: u32, label: i32, gradient_scale: f32) -> f32 {
  let row = token * p.vocab;

  var max_logit = -LARGEST_F32;
  var finite_count = 0u;
  var poisoned = label < 0 || label >= i32(p.vocab);
  for (var j = 0u; j < p.vocab; j++) {
    let l = logits[row + j];
    if (is_nan(l) || is_positive_infinity(l)) {
      poisoned = true;
    } else if (!is_negative_infinity(l)) {
      max_logit = max(max_logit, l);
      finite_count++;
    }
  }
  if (poisoned) {
    fill_gradient_row(row, nan());
    return nan();
  }

  let all_negative_infinity = finite_count == 0u;
  var score_sum = 0.0;
  for (var j = 0u; j < p.vocab; j++) {
    let l = logits[row + j];
    if (!is_negative_infinity(l)) { score_sum += scaled_score(l, max_logit); }
  }

  for (var j = 0u; j < p.vocab; j++) {
    let l = logits[row + j];
    var probability = 1.0 / f32(p.vocab);
    if (!all_negative_infinity) {
      probability = select(scaled_score(l, max_logit) / score_sum, 0.0, is_negative_infinity(l));
    }
    let one_hot = select(0.0, 1.0, j == u32(label));
    d_logits[row + j] = gradient_scale * score_slope(l) * (probability - one_hot);
  }

  if (all_negative_infinity) { return log(f32(p.vocab)); }
  let label_logit = logits[row + u32(label)];
  if (is_negative_infinity(label_logit)) { return infinity(); }
  return log(score_sum) - log_scaled_score(label_logit, max_logit);
}

@compute @workgroup_size(WORKGROUP)
fn cross_entropy(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let sequence = wid.x + wid.y * groups.x;
  if (sequence >= p.batch) { return; }
  let first_token = sequence * p.seq;

  // The gradient scale needs the sequence's valid-token count before any row is written.
  var valid = 0.0;
  for (var t = local; t < p.seq; t += WORKGROUP) {
    if (labels[first_token + t] != IGNORE_LABEL) { valid += 1.0; }
  }
  let divisor = max(workgroup_sum(vec2f(valid, 0.0), local).x, 1.0);
  let gradient_scale = p.loss_scale / divisor;

  var loss_sum = 0.0;
  var nan_count = 0.0;
  for (var t = local; t < p.seq; t += WORKGROUP) {
    let token = first_token + t;
    let label = labels[token];
    if (label == IGNORE_LABEL) {
      fill_gradient_row(token * p.vocab, 0.0);
      continue;
    }
    let loss = token_cross_entropy(token, label, gradient_scale);
    if (is_nan(loss)) { nan_count += 1.0; } else { loss_sum += loss; }
  }

  let totals = workgroup_sum(vec2f(loss_sum, nan_count), local);
  if (local == 0u) {
    seq_loss[sequence] = select(totals.x / divisor, nan(), totals.y > 0.0);
  }
}

// ---------------------------------------------------------------------------------------
// Binary cross-entropy with logits, one invocation per row, in the stable form
//   loss = max(x, 0) − x·t + log(1 + exp(−|x|)),   d loss / dx = sigmoid(x) − t,
// which stays finite for any finite x. With targets 0 and 1 and |x| above about 104, where
// exp(−|x|) underflows to 0, loss and gradient are exact: max(x, 0) − x·t and 0 or ±1.
// A NaN logit or target gives a NaN loss and gradient.
// Dispatch: ceil(batch / 64) workgroups, folded into x and y.

@group(0) @binding(0) var<storage, read> q_logits: array<f32>;         // [batch]
@group(0) @binding(1) var<storage, read> targets: array<f32>;          // [batch], 0 or 1
@group(0) @binding(2) var<storage, read_write> row_loss: array<f32>;   // [batch]
@group(0) @binding(3) var<storage, read_write> d_q_logits: array<f32>; // [batch]

// log(1 + e) for e in [0, 1]. WGSL's log is only accurate to 2⁻²¹ absolute near 1, so small e
// takes the series e − e²/2 + e³/3, whose relative error is below e³/4.
fn log_one_plus(e: f32) -> f32 {
  if (e < 1e-3) { return e * (1.0 - e * (0.5 - e / 3.0)); }
  return log(1.0 + e);
}

@compute @workgroup_size(WORKGROUP)
fn bce_with_logits(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let row = (wid.x + wid.y * groups.x) * WORKGROUP + local;
  if (row >= p.batch) { return; }
  let x = q_logits[row];
  let t = targets[row];
  if (is_nan(x) || is_nan(t)) {
    row_loss[row] = nan();
    d_q_logits[row] = nan();
    return;
  }

  let e = exp(-abs(x));
  row_loss[row] = max(x, 0.0) - x * t + log_one_plus(e);
  let sigmoid = select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
  d_q_logits[row] = p.loss_scale * (sigmoid - t);
}
