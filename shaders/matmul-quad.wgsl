// Matrix product variant whose four lanes of a subgroup quad share the values they load.
// matmul.ts compiles this file appended to matmul.wgsl (for Params, the bindings and the
// Rows4x8 helpers) behind `enable subgroups;`, because WGSL has no includes and the directive
// must come first in a module.
//
// Why: SwiftShader runs 4 invocations in the 4 lanes of an SSE register and turns every
// storage load at a computed offset into a gather of 4 scalar loads, while a quadBroadcast
// is a few register shuffles. In the 8×8 variant all 4 lanes gather the same A values.
// Here a quad computes one 16×32 block of C: lane l loads A rows l, 4+l, 8+l and 12+l and
// owns columns 8l..8l+7, and quadBroadcast hands each lane the other lanes' rows. Per k a
// lane gathers 4 + 8 values for 128 FMAs, against 8 + 8 for 64 in the 8×8 variant.
// The tuning pass of npm run bench timed it 1.28-1.70× faster than 8×8 at the 16 TRM products
// over 10 MFLOP and 0.92-1.0× at the lm_head ones (SwiftShader in Chromium 156, 2-core VM).
//
// Quads are taken to be 4 consecutive local_invocation_index values, as on SwiftShader's
// 4-wide subgroups. WebGPU does not specify that order, so matmul.ts offers this variant only
// on SwiftShader, where the tests check its results.
// Dispatch: ceil(4 · batch · ceil(M/16) · ceil(N/32) / 64) workgroups, folded into x and y.

// The values that quad lanes 0-3 loaded, as rows 0-3.
fn quad_rows(value: f32) -> vec4f {
  return vec4f(quadBroadcast(value, 0u), quadBroadcast(value, 1u), quadBroadcast(value, 2u), quadBroadcast(value, 3u));
}

@compute @workgroup_size(64)
fn matmul_quad_16x32(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(subgroup_invocation_id) subgroup_lane: u32,
) {
  // Blocks are numbered over (batch, M/16, N/32), n fastest. A quad past the last block still
  // runs the loop on clamped indices, because its lanes must all reach every quadBroadcast.
  let lane = subgroup_lane % 4u;
  let quad = ((wid.x + wid.y * groups.x) * 64u + local) / 4u;
  let n_blocks = (p.N + 31u) / 32u;
  let m_blocks = (p.M + 15u) / 16u;
  let valid = quad < n_blocks * m_blocks * p.batch;
  let batch = min(quad / (n_blocks * m_blocks), p.batch - 1u);
  let m0 = (quad / n_blocks) % m_blocks * 16u;
  let n0 = quad % n_blocks * 32u + lane * 8u;

  // This lane's A rows m0 + lane, m0 + 4 + lane, … (past the edge: the last row, never stored).
  let a_base = p.a_offset + batch * p.a_stride_batch;
  let mine = a_base + min(m0 + lane + vec4u(0u, 4u, 8u, 12u), vec4u(p.M - 1u)) * p.a_stride_m;
  let cols = eight_columns(p.b_offset + batch * p.b_stride_batch, n0);

  // rowsR holds C rows m0 + 4R .. m0 + 4R + 3, the rows that lanes 0-3 load as mine[R].
  var rows0: Rows4x8;
  var rows1: Rows4x8;
  var rows2: Rows4x8;
  var rows3: Rows4x8;
  var k = 0u;
  for (; k + 1u < p.K; k += 2u) {
    let steps = load_column_steps(cols, k);
    let a0 = four_rows_at(mine, k);
    let a1 = four_rows_at(mine, k + 1u);
    add_two_steps(&rows0, quad_rows(a0.x), quad_rows(a1.x), steps);
    add_two_steps(&rows1, quad_rows(a0.y), quad_rows(a1.y), steps);
    add_two_steps(&rows2, quad_rows(a0.z), quad_rows(a1.z), steps);
    add_two_steps(&rows3, quad_rows(a0.w), quad_rows(a1.w), steps);
  }
  if (k < p.K) {
    let steps = load_last_column_step(cols, k);
    let a0 = four_rows_at(mine, k);
    let zero = vec4f(0.0);
    add_two_steps(&rows0, quad_rows(a0.x), zero, steps);
    add_two_steps(&rows1, quad_rows(a0.y), zero, steps);
    add_two_steps(&rows2, quad_rows(a0.z), zero, steps);
    add_two_steps(&rows3, quad_rows(a0.w), zero, steps);
  }

  if (!valid) { return; }
  let c_base = batch * p.c_stride_batch;
  store_rows(c_base, m0, n0, rows0);
  store_rows(c_base, m0 + 4u, n0, rows1);
  store_rows(c_base, m0 + 8u, n0, rows2);
  store_rows(c_base, m0 + 12u, n0, rows3);
}
