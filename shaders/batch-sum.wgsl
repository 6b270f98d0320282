// Sum over the leading batch axis, added into the output: out[i] += Σ_b x[b, i]. The
// token-mixing weight gradients use it: a batched product leaves one [out, in] matrix per
// sample, and the weight's gradient is their sum. The entries are added in batch order, so the
// result is deterministic.
// Dispatch: ceil(length / 64) workgroups, folded into x and y.

struct Params {
  batch: u32,
  length: u32,  // elements per batch entry
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // [batch, length]
@group(0) @binding(2) var<storage, read_write> out: array<f32>;   // [length], accumulated

@compute @workgroup_size(64)
fn batch_sum_accumulate(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let i = (wid.x + wid.y * groups.x) * 64u + local;
  if (i >= p.length) { return; }

  var sum = 0.0;
  for (var b = 0u; b < p.batch; b++) {
    sum += x[b * p.length + i];
  }
  out[i] += sum;
}
