// RMSNorm without gain, forward and backward:
//   y = x · rstd, rstd = 1 / sqrt(mean(x²) + eps)
//   dX = rstd · (dY − y · mean(dY ⊙ y))
// Both apply to `vectors` independent vectors of `length` elements each. Vector v starts at
// (v / stride) · length · stride + v % stride and its elements lie `stride` apart:
// - stride 1: x is [vectors, length] and each row is normalised;
// - stride = channels: x is [batch, length, channels] and each (batch, channel) column is
//   normalised along the middle axis, with vectors = batch · channels.
// rstd has one value per vector: [rows], or [batch, channels].
//
// Two variants:
// - workgroup: one 64-wide workgroup per vector, which reduces it in workgroup memory. For
//   GPUs and rows (stride 1), where neighbouring invocations read neighbouring elements.
//   Dispatch: `vectors` workgroups, folded into x and y.
// - invocation: one invocation per vector, which walks it alone. For columns, where
//   neighbouring invocations read neighbouring channels, and for CPU-backed adapters such as
//   SwiftShader, where barriers cost more than they save.
//   Dispatch: ceil(vectors / 64) workgroups, folded into x and y.

struct Params {
  vectors: u32,
  length: u32,
  stride: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

// Forward bindings.
@group(0) @binding(1) var<storage, read_write> y_out: array<f32>;     // same shape as x
@group(0) @binding(2) var<storage, read_write> rstd_out: array<f32>;  // [vectors]
@group(0) @binding(3) var<storage, read> x: array<f32>;               // [rows, length] or [batch, length, channels]

// Backward bindings: dY and the forward pass's y and rstd.
@group(0) @binding(1) var<storage, read_write> d_x: array<f32>;       // same shape as x
@group(0) @binding(2) var<storage, read> d_y: array<f32>;             // same shape as x
@group(0) @binding(3) var<storage, read> y: array<f32>;               // same shape as x
@group(0) @binding(4) var<storage, read> rstd: array<f32>;            // [vectors]

fn workgroup_index(wid: vec3u, groups: vec3u) -> u32 {
  return wid.x + wid.y * groups.x;
}

// Index of element 0 of vector v. Element j of the vector is at base + j · stride.
fn vector_base(v: u32) -> u32 {
  return (v / p.stride) * p.length * p.stride + v % p.stride;
}

// ---------------------------------------------------------------------------------------
// Workgroup variant.

const WORKGROUP = 64u;

var<workgroup> partials: array<f32, WORKGROUP>;

// Sums one value per invocation over the workgroup in a fixed tree; every invocation gets
// the total. Must be called from uniform control flow.
fn workgroup_sum(local: u32, value: f32) -> f32 {
  partials[local] = value;
  workgroupBarrier();
  for (var width = WORKGROUP / 2u; width > 0u; width /= 2u) {
    if (local < width) {
      partials[local] += partials[local + width];
    }
    workgroupBarrier();
  }
  return partials[0];
}

@compute @workgroup_size(64)
fn rmsnorm_workgroup_forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let v = workgroup_index(wid, groups);
  if (v >= p.vectors) { return; }
  let base = vector_base(v);

  var squares = 0.0;
  for (var j = local; j < p.length; j += WORKGROUP) {
    let value = x[base + j * p.stride];
    squares = fma(value, value, squares);
  }
  let r = inverseSqrt(workgroup_sum(local, squares) / f32(p.length) + p.eps);

  for (var j = local; j < p.length; j += WORKGROUP) {
    let i = base + j * p.stride;
    y_out[i] = x[i] * r;
  }
  if (local == 0u) { rstd_out[v] = r; }
}

@compute @workgroup_size(64)
fn rmsnorm_workgroup_backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let v = workgroup_index(wid, groups);
  if (v >= p.vectors) { return; }
  let base = vector_base(v);

  var dot = 0.0;
  for (var j = local; j < p.length; j += WORKGROUP) {
    let i = base + j * p.stride;
    dot = fma(d_y[i], y[i], dot);
  }
  let mean_dot = workgroup_sum(local, dot) / f32(p.length);
  let r = rstd[v];

  for (var j = local; j < p.length; j += WORKGROUP) {
    let i = base + j * p.stride;
    d_x[i] = r * (d_y[i] - y[i] * mean_dot);
  }
}

// ---------------------------------------------------------------------------------------
// Invocation variant.

@compute @workgroup_size(64)
fn rmsnorm_invocation_forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let v = workgroup_index(wid, groups) * 64u + local;
  if (v >= p.vectors) { return; }
  let base = vector_base(v);

  var squares = 0.0;
  for (var j = 0u; j < p.length; j++) {
    let value = x[base + j * p.stride];
    squares = fma(value, value, squares);
  }
  let r = inverseSqrt(squares / f32(p.length) + p.eps);

  for (var j = 0u; j < p.length; j++) {
    let i = base + j * p.stride;
    y_out[i] = x[i] * r;
  }
  rstd_out[v] = r;
}

@compute @workgroup_size(64)
fn rmsnorm_invocation_backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let v = workgroup_index(wid, groups) * 64u + local;
  if (v >= p.vectors) { return; }
  let base = vector_base(v);

  var dot = 0.0;
  for (var j = 0u; j < p.length; j++) {
    let i = base + j * p.stride;
    dot = fma(d_y[i], y[i], dot);
  }
  let mean_dot = dot / f32(p.length);
  let r = rstd[v];

  for (var j = 0u; j < p.length; j++) {
    let i = base + j * p.stride;
    d_x[i] = r * (d_y[i] - y[i] * mean_dot);
  }
}
