// Output-head kernels: the grid rows of y that lm_head reads, the halting logit that q_head
// computes at position 0, their backward passes, and argmax predictions.
//
// y is [batch, length, hidden] with length = prefix + seq. The grid is rows prefix … length − 1
// of each sample. The halting head reads row 0 of q_head.weight and q_head.bias[0] from one
// binding that starts at q_head.weight and reaches past q_head.bias; bias_offset is the bias's
// element offset inside that binding. q_continue (row 1 of q_head) has no loss, so it is never
// computed here.
//
// Each entry point binds its own variables; binding numbers repeat across entry points.
// Dispatches fold counts above 65535 workgroups into y, so the flat workgroup index is
// wid.x + wid.y * num_workgroups.x.

struct Params {
  batch: u32,
  length: u32,         // prefix + seq
  prefix: u32,
  hidden: u32,
  vocab: u32,
  bias_offset: u32,    // q_head.bias[0] relative to q_head.weight[0, 0]
  output_offset: u32,  // argmax_rows: first element of predictions written
  rows: u32,           // argmax_rows: rows of logits
}

@group(0) @binding(0) var<uniform> p: Params;

struct Invocation {
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) local: u32,
}

fn flat_index(inv: Invocation) -> u32 {
  return (inv.wid.x + inv.wid.y * inv.groups.x) * 64u + inv.local;
}

// (sample, position, channel) of element `index` of a [batch, length, hidden] tensor.
fn y_coordinates(index: u32) -> vec3u {
  return vec3u(index / (p.hidden * p.length), (index / p.hidden) % p.length, index % p.hidden);
}

// ---------------------------------------------------------------------------------------
// gather_rows: grid[b, s, c] = y[b, prefix + s, c].
// Dispatch: ceil(batch · seq · hidden / 64) workgroups.
// scatter_rows: dy[b, l, c] = d_grid[b, l − prefix, c] for l ≥ prefix, else 0.
// Dispatch: ceil(batch · length · hidden / 64) workgroups.

@group(0) @binding(1) var<storage, read> rows_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> rows_out: array<f32>;

@compute @workgroup_size(64)
fn gather_rows(inv: Invocation) {
  let seq = p.length - p.prefix;
  let index = flat_index(inv);
  if (index >= p.batch * seq * p.hidden) { return; }

  let channel = index % p.hidden;
  let row = index / p.hidden;
  let sample = row / seq;
  let position = p.prefix + row % seq;
  rows_out[index] = rows_in[(sample * p.length + position) * p.hidden + channel];
}

@compute @workgroup_size(64)
fn scatter_rows(inv: Invocation) {
  let seq = p.length - p.prefix;
  let index = flat_index(inv);
  if (index >= p.batch * p.length * p.hidden) { return; }

  let at = y_coordinates(index);
  var value = 0.0;
  if (at.y >= p.prefix) {
    value = rows_in[(at.x * seq + at.y - p.prefix) * p.hidden + at.z];
  }
  rows_out[index] = value;
}

// ---------------------------------------------------------------------------------------
// q_halt_forward: q[b] = q_head.bias[0] + Σ_c y[b, 0, c] · q_head.weight[0, c].
// Dispatch: ceil(batch / 64) workgroups.

@group(0) @binding(1) var<storage, read> y: array<f32>;               // [batch, length, hidden]
@group(0) @binding(2) var<storage, read> head: array<f32>;            // q_head.weight … q_head.bias
@group(0) @binding(3) var<storage, read_write> q: array<f32>;         // [batch]

@compute @workgroup_size(64)
fn q_halt_forward(inv: Invocation) {
  let sample = flat_index(inv);
  if (sample >= p.batch) { return; }

  let row = sample * p.length * p.hidden;
  var sum = 0.0;
  for (var c = 0u; c < p.hidden; c++) {
    sum += y[row + c] * head[c];
  }
  q[sample] = sum + head[p.bias_offset];
}

// ---------------------------------------------------------------------------------------
// q_halt_weight_grad: invocation c < hidden adds Σ_b dq[b] · y[b, 0, c] to the gradient of
// q_head.weight[0, c], and invocation hidden adds Σ_b dq[b] to that of q_head.bias[0].
// Dispatch: ceil((hidden + 1) / 64) workgroups.

@group(0) @binding(1) var<storage, read> grad_y: array<f32>;           // [batch, length, hidden]
@group(0) @binding(2) var<storage, read> dq: array<f32>;               // [batch]
@group(0) @binding(3) var<storage, read_write> d_head: array<f32>;     // q_head.weight … q_head.bias, accumulated

@compute @workgroup_size(64)
fn q_halt_weight_grad(inv: Invocation) {
  let c = flat_index(inv);
  if (c > p.hidden) { return; }

  var sum = 0.0;
  for (var b = 0u; b < p.batch; b++) {
    var factor = 1.0;
    if (c < p.hidden) { factor = grad_y[b * p.length * p.hidden + c]; }
    sum += dq[b] * factor;
  }
  let element = select(p.bias_offset, c, c < p.hidden);
  d_head[element] += sum;
}

// ---------------------------------------------------------------------------------------
// q_halt_input_grad: dy[b, 0, c] = dq[b] · q_head.weight[0, c], and 0 at every other row.
// Dispatch: ceil(batch · length · hidden / 64) workgroups.

@group(0) @binding(1) var<storage, read> input_dq: array<f32>;         // [batch]
@group(0) @binding(2) var<storage, read> input_head: array<f32>;       // q_head.weight … q_head.bias
@group(0) @binding(3) var<storage, read_write> dy: array<f32>;         // [batch, length, hidden]

@compute @workgroup_size(64)
fn q_halt_input_grad(inv: Invocation) {
  let index = flat_index(inv);
  if (index >= p.batch * p.length * p.hidden) { return; }

  let at = y_coordinates(index);
  var value = 0.0;
  if (at.y == 0u) {
    value = input_dq[at.x] * input_head[at.z];
  }
  dy[index] = value;
}

// ---------------------------------------------------------------------------------------
// argmax_rows: predictions[output_offset + r] = argmax_v logits[r, v] for r < rows, the first
// index of the maximum, with NaN above everything as torch.argmax (and metrics.wgsl) treat it.
// Dispatch: ceil(rows / 64) workgroups.

@group(0) @binding(1) var<storage, read> logits: array<f32>;           // [rows, vocab]
@group(0) @binding(2) var<storage, read_write> predictions: array<i32>;

// A u32 that orders like the logit, compared as integers because WGSL leaves comparisons with
// NaN unspecified. −0 equals +0.
fn argmax_key(l: f32) -> u32 {
  var bits = bitcast<u32>(l);
  if ((bits & 0x7fffffffu) > 0x7f800000u) { return 0xffffffffu; }
  if (bits == 0x80000000u) { bits = 0u; }
  if ((bits & 0x80000000u) != 0u) { return ~bits; }
  return bits | 0x80000000u;
}

@compute @workgroup_size(64)
fn argmax_rows(inv: Invocation) {
  let row = flat_index(inv);
  if (row >= p.rows) { return; }

  let first = row * p.vocab;
  var best = 0u;
  var best_key = argmax_key(logits[first]);
  for (var v = 1u; v < p.vocab; v++) {
    let key = argmax_key(logits[first + v]);
    if (key > best_key) {
      best = v;
      best_key = key;
    }
  }
  predictions[p.output_offset + row] = i32(best);
}
