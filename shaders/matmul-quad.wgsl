// Matrix product variant whose four lanes of a subgroup quad share the values they load.
// matmul.ts compiles this file appended to matmul.wgsl (for Params, the bindings and
// store_row) behind `enable subgroups;`, because WGSL has no includes and the directive
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

// Four rows of C by one lane's eight columns: columns 0-3 in *_low, 4-7 in *_high.
struct QuadRows {
  r0_low: vec4f,
  r0_high: vec4f,
  r1_low: vec4f,
  r1_high: vec4f,
  r2_low: vec4f,
  r2_high: vec4f,
  r3_low: vec4f,
  r3_high: vec4f,
}

// Adds two k steps to the four rows that quad lanes 0-3 loaded: a0 at k, a1 at k + 1, times
// this lane's B values at k (low0, high0) and k + 1 (low1, high1). Both steps update an
// accumulator back to back, so a spilled accumulator is read and written once per two FMAs.
// The same pairing made the 8×8 kernel 1.15-1.25× faster.
fn add_to_quad_rows(rows: ptr<function, QuadRows>, a0: f32, a1: f32, low0: vec4f, high0: vec4f, low1: vec4f, high1: vec4f) {
  let x0 = vec4f(quadBroadcast(a0, 0u));
  let y0 = vec4f(quadBroadcast(a1, 0u));
  (*rows).r0_low = fma(y0, low1, fma(x0, low0, (*rows).r0_low));
  (*rows).r0_high = fma(y0, high1, fma(x0, high0, (*rows).r0_high));

  let x1 = vec4f(quadBroadcast(a0, 1u));
  let y1 = vec4f(quadBroadcast(a1, 1u));
  (*rows).r1_low = fma(y1, low1, fma(x1, low0, (*rows).r1_low));
  (*rows).r1_high = fma(y1, high1, fma(x1, high0, (*rows).r1_high));

  let x2 = vec4f(quadBroadcast(a0, 2u));
  let y2 = vec4f(quadBroadcast(a1, 2u));
  (*rows).r2_low = fma(y2, low1, fma(x2, low0, (*rows).r2_low));
  (*rows).r2_high = fma(y2, high1, fma(x2, high0, (*rows).r2_high));

  let x3 = vec4f(quadBroadcast(a0, 3u));
  let y3 = vec4f(quadBroadcast(a1, 3u));
  (*rows).r3_low = fma(y3, low1, fma(x3, low0, (*rows).r3_low));
  (*rows).r3_high = fma(y3, high1, fma(x3, high0, (*rows).r3_high));
}

// This lane's eight B values at one k, from the column offsets in `cols`.
fn load_quad_columns(cols: array<u32, 8>, bk: u32) -> array<vec4f, 2> {
  let low = vec4f(b[cols[0] + bk], b[cols[1] + bk], b[cols[2] + bk], b[cols[3] + bk]);
  let high = vec4f(b[cols[4] + bk], b[cols[5] + bk], b[cols[6] + bk], b[cols[7] + bk]);
  return array(low, high);
}

fn column_offset(b_base: u32, n: u32) -> u32 {
  return b_base + min(n, p.N - 1u) * p.b_stride_n;
}

fn store_quad_rows(base: u32, m: u32, n: u32, rows: QuadRows) {
  store_row(base, m, n, rows.r0_low);
  store_row(base, m, n + 4u, rows.r0_high);
  store_row(base, m + 1u, n, rows.r1_low);
  store_row(base, m + 1u, n + 4u, rows.r1_high);
  store_row(base, m + 2u, n, rows.r2_low);
  store_row(base, m + 2u, n + 4u, rows.r2_high);
  store_row(base, m + 3u, n, rows.r3_low);
  store_row(base, m + 3u, n + 4u, rows.r3_high);
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

  // Rows and columns past the edge read the last valid one and are never stored.
  let a_base = p.a_offset + batch * p.a_stride_batch;
  let row0 = a_base + min(m0 + lane, p.M - 1u) * p.a_stride_m;
  let row1 = a_base + min(m0 + 4u + lane, p.M - 1u) * p.a_stride_m;
  let row2 = a_base + min(m0 + 8u + lane, p.M - 1u) * p.a_stride_m;
  let row3 = a_base + min(m0 + 12u + lane, p.M - 1u) * p.a_stride_m;
  let b_base = p.b_offset + batch * p.b_stride_batch;
  let cols = array(
    column_offset(b_base, n0), column_offset(b_base, n0 + 1u),
    column_offset(b_base, n0 + 2u), column_offset(b_base, n0 + 3u),
    column_offset(b_base, n0 + 4u), column_offset(b_base, n0 + 5u),
    column_offset(b_base, n0 + 6u), column_offset(b_base, n0 + 7u),
  );

  // rowsR holds C rows m0 + 4R .. m0 + 4R + 3, the rows that lanes 0-3 load through rowR.
  var rows0: QuadRows;
  var rows1: QuadRows;
  var rows2: QuadRows;
  var rows3: QuadRows;
  var k = 0u;
  for (; k + 1u < p.K; k += 2u) {
    let b0 = load_quad_columns(cols, k * p.b_stride_k);
    let b1 = load_quad_columns(cols, (k + 1u) * p.b_stride_k);
    let ak0 = k * p.a_stride_k;
    let ak1 = ak0 + p.a_stride_k;
    add_to_quad_rows(&rows0, a[row0 + ak0], a[row0 + ak1], b0[0], b0[1], b1[0], b1[1]);
    add_to_quad_rows(&rows1, a[row1 + ak0], a[row1 + ak1], b0[0], b0[1], b1[0], b1[1]);
    add_to_quad_rows(&rows2, a[row2 + ak0], a[row2 + ak1], b0[0], b0[1], b1[0], b1[1]);
    add_to_quad_rows(&rows3, a[row3 + ak0], a[row3 + ak1], b0[0], b0[1], b1[0], b1[1]);
  }

  // An odd K leaves one step: the second step adds 0 · 0.
  if (k < p.K) {
    let b0 = load_quad_columns(cols, k * p.b_stride_k);
    let ak = k * p.a_stride_k;
    let zero = vec4f(0.0);
    add_to_quad_rows(&rows0, a[row0 + ak], 0.0, b0[0], b0[1], zero, zero);
    add_to_quad_rows(&rows1, a[row1 + ak], 0.0, b0[0], b0[1], zero, zero);
    add_to_quad_rows(&rows2, a[row2 + ak], 0.0, b0[0], b0[1], zero, zero);
    add_to_quad_rows(&rows3, a[row3 + ak], 0.0, b0[0], b0[1], zero, zero);
  }

  if (!valid) { return; }
  let c_base = batch * p.c_stride_batch;
  store_quad_rows(c_base, m0, n0, rows0);
  store_quad_rows(c_base, m0 + 4u, n0, rows1);
  store_quad_rows(c_base, m0 + 8u, n0, rows2);
  store_quad_rows(c_base, m0 + 12u, n0, rows3);
}
