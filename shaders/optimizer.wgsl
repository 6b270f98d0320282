// Optimizer steps over the flat parameter buffer: AdamATan2, AdamW and the EMA shadow update
// (one dispatch over all P parameters each), and sparse SignSGD for puzzle-embedding rows.
//
// The dense kernels bind every [P] buffer as array<vec4f>, one vec4 per invocation, so each
// binding must span ceil(P / 4) vec4s. In the last vec4 the lanes at index P and beyond are
// read but never written.
//
// Each entry point binds its own variables; binding numbers repeat across entry points.
// Dispatches fold counts above 65535 workgroups into y, so the flat workgroup index is
// wid.x + wid.y * num_workgroups.x.

fn flat_index(local: u32, wid: vec3u, groups: vec3u) -> u32 {
  return (wid.x + wid.y * groups.x) * 64u + local;
}

// ---------------------------------------------------------------------------------------
// Adam family. Per element at step t, with decoupled weight decay applied first:
//   p ← p · (1 − lr·wd)
//   m ← β1·m + (1 − β1)·g,   v ← β2·v + (1 − β2)·g²
//   AdamATan2: p ← p − lr · atan2(m / (1 − β1^t), sqrt(v) / sqrt(1 − β2^t))
//   AdamW:     p ← p − lr · (m / (1 − β1^t)) / (sqrt(v) / sqrt(1 − β2^t) + eps)
// The host computes 1 − β, 1 − lr·wd and the bias corrections in float64 for each step.
// Dispatch: ceil(ceil(P / 4) / 64) workgroups.

struct AdamParams {
  count: u32,             // P
  beta1: f32,
  one_minus_beta1: f32,
  beta2: f32,
  one_minus_beta2: f32,
  lr: f32,
  decay: f32,             // 1 − lr·wd
  bias1: f32,             // 1 − β1^t
  bias2_sqrt: f32,        // sqrt(1 − β2^t)
  eps: f32,               // AdamW only
}

@group(0) @binding(0) var<storage, read_write> param: array<vec4f>;  // [P]
@group(0) @binding(1) var<storage, read> grad: array<vec4f>;         // [P]
@group(0) @binding(2) var<storage, read_write> m: array<vec4f>;      // [P] first moment
@group(0) @binding(3) var<storage, read_write> v: array<vec4f>;      // [P] second moment
@group(0) @binding(4) var<uniform> adam_params: AdamParams;

// AdamATan2 when true, AdamW when false; a pipeline constant, so each pipeline keeps one branch.
override use_atan2: bool;

@compute @workgroup_size(64)
fn adam(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let i = flat_index(local, wid, groups);
  if (i * 4u >= adam_params.count) { return; }

  let g = grad[i];
  let m_new = adam_params.beta1 * m[i] + adam_params.one_minus_beta1 * g;
  let v_new = adam_params.beta2 * v[i] + adam_params.one_minus_beta2 * g * g;
  let m_hat = m_new / adam_params.bias1;
  let v_hat_sqrt = sqrt(v_new) / adam_params.bias2_sqrt;

  var step: vec4f;
  if (use_atan2) {
    // atan2(0, 0) is undefined in WGSL. With m̂ = 0 the step is 0 for every v̂ ≥ 0.
    step = select(atan2(m_hat, v_hat_sqrt), vec4f(0.0), m_hat == vec4f(0.0));
  } else {
    step = m_hat / (v_hat_sqrt + adam_params.eps);
  }
  let p_new = param[i] * adam_params.decay - adam_params.lr * step;

  // Lanes at index P and beyond are not written.
  let lanes = adam_params.count - i * 4u;
  if (lanes >= 4u) {
    param[i] = p_new;
    m[i] = m_new;
    v[i] = v_new;
    return;
  }
  for (var lane = 0u; lane < lanes; lane++) {
    param[i][lane] = p_new[lane];
    m[i][lane] = m_new[lane];
    v[i][lane] = v_new[lane];
  }
}

// ---------------------------------------------------------------------------------------
// EMA of the parameters: shadow ← rate · shadow + (1 − rate) · param.
// Dispatch: ceil(ceil(P / 4) / 64) workgroups.

struct EmaParams {
  count: u32,             // P
  rate: f32,
  one_minus_rate: f32,
}

@group(0) @binding(0) var<storage, read_write> shadow: array<vec4f>;  // [P]
@group(0) @binding(1) var<storage, read> ema_param: array<vec4f>;     // [P]
@group(0) @binding(2) var<uniform> ema_params: EmaParams;

@compute @workgroup_size(64)
fn ema(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let i = flat_index(local, wid, groups);
  if (i * 4u >= ema_params.count) { return; }

  let value = ema_params.rate * shadow[i] + ema_params.one_minus_rate * ema_param[i];

  // Lanes at index P and beyond are not written.
  let lanes = ema_params.count - i * 4u;
  if (lanes >= 4u) {
    shadow[i] = value;
    return;
  }
  for (var lane = 0u; lane < lanes; lane++) {
    shadow[i][lane] = value[lane];
  }
}

// ---------------------------------------------------------------------------------------
// Sparse SignSGD for puzzle-embedding rows. The gradients of a batch are summed per unique
// puzzle id in batch order, then each touched row is updated once:
//   row ← row · (1 − lr·wd) − lr · sign(sum),  with sign(0) = 0.
// Rows no sample touches are not written. One invocation per (sample, channel); the sample
// holding the first occurrence of an id owns that row, so no two invocations write the same
// element. Ids outside [0, rows) update nothing. Cost is O(batch²) id comparisons per
// channel in the worst case (all ids distinct).
// Dispatch: ceil(batch · hidden / 64) workgroups.

struct SignSgdParams {
  batch: u32,
  hidden: u32,
  rows: u32,
  lr: f32,
  decay: f32,             // 1 − lr·wd
}

@group(0) @binding(0) var<storage, read_write> table: array<f32>;    // [rows, hidden]
@group(0) @binding(1) var<storage, read> sample_grads: array<f32>;   // [batch, hidden]
@group(0) @binding(2) var<storage, read> ids: array<i32>;            // [batch]
@group(0) @binding(3) var<uniform> sgd_params: SignSgdParams;

fn is_first_occurrence(sample: u32, id: i32) -> bool {
  for (var earlier = 0u; earlier < sample; earlier++) {
    if (ids[earlier] == id) { return false; }
  }
  return true;
}

@compute @workgroup_size(64)
fn sign_sgd(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let index = flat_index(local, wid, groups);
  if (index >= sgd_params.batch * sgd_params.hidden) { return; }

  let sample = index / sgd_params.hidden;
  let channel = index % sgd_params.hidden;
  let id = ids[sample];
  if (id < 0 || id >= i32(sgd_params.rows) || !is_first_occurrence(sample, id)) { return; }

  var sum = 0.0;
  for (var other = sample; other < sgd_params.batch; other++) {
    if (ids[other] == id) { sum += sample_grads[other * sgd_params.hidden + channel]; }
  }

  let element = u32(id) * sgd_params.hidden + channel;
  table[element] = table[element] * sgd_params.decay - sgd_params.lr * sign(sum);
}
