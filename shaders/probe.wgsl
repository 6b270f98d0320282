// Hardware probes for the benchmarks: an FMA-bound kernel for the f32 peak and a copy
// kernel for memory bandwidth.

@group(0) @binding(0) var<storage, read_write> sink: array<vec4f>;  // [invocations]

const FMA_ITERATIONS = 512u;

// 8 independent vec4 FMA chains per invocation (32 lanes of FMA in flight), so the
// kernel is bound by FMA throughput, not latency. 2 · 32 · FMA_ITERATIONS flops each.
@compute @workgroup_size(64)
fn fma_peak(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = gid.x + gid.y * groups.x * 64u;
  let seed = f32(index & 255u) * 1e-3;
  var a0 = vec4f(seed); var a1 = a0 + 0.1; var a2 = a0 + 0.2; var a3 = a0 + 0.3;
  var a4 = a0 + 0.4; var a5 = a0 + 0.5; var a6 = a0 + 0.6; var a7 = a0 + 0.7;
  let m = vec4f(0.9999);
  let c = vec4f(1e-4);
  for (var i = 0u; i < FMA_ITERATIONS; i++) {
    a0 = fma(a0, m, c); a1 = fma(a1, m, c); a2 = fma(a2, m, c); a3 = fma(a3, m, c);
    a4 = fma(a4, m, c); a5 = fma(a5, m, c); a6 = fma(a6, m, c); a7 = fma(a7, m, c);
  }
  sink[index] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}

@group(0) @binding(0) var<storage, read> copy_source: array<vec4f>;        // [n / 4]
@group(0) @binding(1) var<storage, read_write> copy_target: array<vec4f>;  // [n / 4]

@compute @workgroup_size(64)
fn copy(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let index = gid.x + gid.y * groups.x * 64u;
  if (index >= arrayLength(&copy_target)) { return; }
  copy_target[index] = copy_source[index];
}
