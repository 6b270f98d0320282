// Batched strided matrix product: C[b] = alpha · op(A[b]) · op(B[b]) (+ C[b] when accumulating).
// Transposes are expressed through strides, so one kernel serves Y = X·Wᵀ (linear forward),
// dX = dY·W, dW += dYᵀ·X and the token-mixing products that act along the sequence axis.
//
// Element (m, k) of A is a[a_offset + batch·a_stride_batch + m·a_stride_m + k·a_stride_k],
// likewise for B with (k, n). C is row-major [batch, M, N] with row stride N.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  batch: u32,
  a_stride_m: u32,
  a_stride_k: u32,
  a_stride_batch: u32,
  accumulate: u32,
  b_stride_k: u32,
  b_stride_n: u32,
  b_stride_batch: u32,
  c_stride_batch: u32,
  alpha: f32,
  a_offset: u32,
  b_offset: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;        // [batch, M, K] through a_stride_*
@group(0) @binding(1) var<storage, read> b: array<f32>;        // [batch, K, N] through b_stride_*
@group(0) @binding(2) var<storage, read_write> c: array<f32>;  // [batch, M, N] row-major
@group(0) @binding(3) var<uniform> p: Params;

fn load_a(base: u32, m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  return a[base + m * p.a_stride_m + k * p.a_stride_k];
}

fn load_b(base: u32, k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) { return 0.0; }
  return b[base + k * p.b_stride_k + n * p.b_stride_n];
}

fn store_c(base: u32, m: u32, n: u32, value: f32) {
  if (m >= p.M || n >= p.N) { return; }
  let index = base + m * p.N + n;
  var result = p.alpha * value;
  if (p.accumulate != 0u) { result += c[index]; }
  c[index] = result;
}

// ---------------------------------------------------------------------------------------
// Shared-memory variant, for GPUs: a 16×16 workgroup computes a 64×64 tile of C, each
// invocation a 4×4 block strided by 16 so neighbouring invocations touch neighbouring
// addresses. K advances 16 at a time through workgroup memory.
// Dispatch: (ceil(N / 64), ceil(M / 64), batch).

const TILE = 64u;
const TILE_K = 16u;

var<workgroup> tile_a: array<f32, 1024>;  // [TILE (m), TILE_K (k)]
var<workgroup> tile_b: array<f32, 1024>;  // [TILE_K (k), TILE (n)]

@compute @workgroup_size(16, 16)
fn matmul_tiled(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let m0 = wid.y * TILE;
  let n0 = wid.x * TILE;
  let a_base = p.a_offset + wid.z * p.a_stride_batch;
  let b_base = p.b_offset + wid.z * p.b_stride_batch;
  let thread = lid.y * 16u + lid.x;
  var acc: array<f32, 16>;

  for (var k0 = 0u; k0 < p.K; k0 += TILE_K) {
    for (var i = 0u; i < 4u; i++) {
      let e = thread + i * 256u;
      tile_a[e] = load_a(a_base, m0 + e / TILE_K, k0 + e % TILE_K);
      tile_b[e] = load_b(b_base, k0 + e / TILE, n0 + e % TILE);
    }
    workgroupBarrier();

    for (var kk = 0u; kk < TILE_K; kk++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        av[i] = tile_a[(lid.y + 16u * i) * TILE_K + kk];
        bv[i] = tile_b[kk * TILE + lid.x + 16u * i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]);
        }
      }
    }
    workgroupBarrier();
  }

  let c_base = wid.z * p.c_stride_batch;
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      store_c(c_base, m0 + lid.y + 16u * i, n0 + lid.x + 16u * j, acc[i * 4u + j]);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Register variant, for CPU-backed adapters such as SwiftShader, where a barrier costs far
// more than it saves: no workgroup memory, each invocation computes a 4×4 block of C
// straight from global memory. Invocations are numbered over (batch, M/4, N/4), n fastest.
// The block lives in four vec4 accumulators and every loop over it is written out by hand:
// SwiftShader keeps a dynamically indexed private array in memory, which measured ~100×
// slower than registers (SwiftShader 5.0.0 in Chromium 156).
// The 4×4 variants reach about 15-35% of the FMA probe's rate on SwiftShader, the 8×8 one at
// the end of this file about 37-46%, and the quad variant in matmul-quad.wgsl 55-76% (npm run
// bench, Chromium 156, 2-core VM). SwiftShader runs 4 invocations in the 4 lanes of an SSE
// register, and it turns every storage load whose offset is not a compile-time constant into
// a gather of 4 scalar loads (SIMD::Pointer::Load, src/Pipeline/ShaderCore.hpp in
// google/swiftshader). So the FMAs per value loaded set the rate. The 8×8 kernel with its
// loads replaced by arithmetic ran at 8.3-10.4 GFLOP/s, against 7.4-9.5 for the FMA probe and
// 3.3-4.2 for the real kernel (SwiftShader 5.0.0 through Dawn in the webgpu package for Node).
// Dispatch: ceil(batch · ceil(M/4) · ceil(N/4) / 64) workgroups, folded into x and y.

@compute @workgroup_size(64)
fn matmul_registers(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let block = block_of(local, wid, groups);
  if (!block.valid) { return; }

  // Rows and columns past the edge read the last valid one and are never stored.
  let a_base = p.a_offset + block.batch * p.a_stride_batch;
  let b_base = p.b_offset + block.batch * p.b_stride_batch;
  let row0 = a_base + min(block.m0, p.M - 1u) * p.a_stride_m;
  let row1 = a_base + min(block.m0 + 1u, p.M - 1u) * p.a_stride_m;
  let row2 = a_base + min(block.m0 + 2u, p.M - 1u) * p.a_stride_m;
  let row3 = a_base + min(block.m0 + 3u, p.M - 1u) * p.a_stride_m;
  let col0 = b_base + min(block.n0, p.N - 1u) * p.b_stride_n;
  let col1 = b_base + min(block.n0 + 1u, p.N - 1u) * p.b_stride_n;
  let col2 = b_base + min(block.n0 + 2u, p.N - 1u) * p.b_stride_n;
  let col3 = b_base + min(block.n0 + 3u, p.N - 1u) * p.b_stride_n;

  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k = 0u; k < p.K; k++) {
    let ak = k * p.a_stride_k;
    let bk = k * p.b_stride_k;
    let bv = vec4f(b[col0 + bk], b[col1 + bk], b[col2 + bk], b[col3 + bk]);
    acc0 = fma(vec4f(a[row0 + ak]), bv, acc0);
    acc1 = fma(vec4f(a[row1 + ak]), bv, acc1);
    acc2 = fma(vec4f(a[row2 + ak]), bv, acc2);
    acc3 = fma(vec4f(a[row3 + ak]), bv, acc3);
  }
  store_block(block, acc0, acc1, acc2, acc3);
}

fn store_row(base: u32, m: u32, n0: u32, values: vec4f) {
  store_c(base, m, n0, values.x);
  store_c(base, m, n0 + 1u, values.y);
  store_c(base, m, n0 + 2u, values.z);
  store_c(base, m, n0 + 3u, values.w);
}

// ---------------------------------------------------------------------------------------
// Register variants with vec4 loads, for the same CPU-backed adapters. They read the same
// buffers through vec4 views, so they apply only where strides and sizes are multiples of
// 4 (matmul.ts checks eligibility). Same numbering and dispatch as matmul_registers.

@group(0) @binding(0) var<storage, read> a4: array<vec4f>;  // A viewed as vec4
@group(0) @binding(1) var<storage, read> b4: array<vec4f>;  // B viewed as vec4

struct Block {
  m0: u32,
  n0: u32,
  batch: u32,
  valid: bool,
}

fn block_of(local: u32, wid: vec3u, groups: vec3u) -> Block {
  return block_of_size(local, wid, groups, 4u);
}

// The square block of C that invocation `local` computes, numbered over (batch, M/size,
// N/size) with n fastest.
fn block_of_size(local: u32, wid: vec3u, groups: vec3u, size: u32) -> Block {
  let n_blocks = (p.N + size - 1u) / size;
  let m_blocks = (p.M + size - 1u) / size;
  let flat = (wid.x + wid.y * groups.x) * 64u + local;
  let valid = flat < n_blocks * m_blocks * p.batch;
  return Block((flat / n_blocks) % m_blocks * size, flat % n_blocks * size, flat / (n_blocks * m_blocks), valid);
}

fn store_block(block: Block, acc0: vec4f, acc1: vec4f, acc2: vec4f, acc3: vec4f) {
  let c_base = block.batch * p.c_stride_batch;
  store_row(c_base, block.m0, block.n0, acc0);
  store_row(c_base, block.m0 + 1u, block.n0, acc1);
  store_row(c_base, block.m0 + 2u, block.n0, acc2);
  store_row(c_base, block.m0 + 3u, block.n0, acc3);
}

// A and B both contiguous along k (Y = X·Wᵀ): four k at a time from each of 4 rows of A
// and 4 rows of W, 64 FMAs per 8 vec4 loads. Needs a_stride_k = b_stride_k = 1 and K,
// a_stride_m, b_stride_n, the batch strides and the offsets multiples of 4.
@compute @workgroup_size(64)
fn matmul_registers_nt4(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let block = block_of(local, wid, groups);
  if (!block.valid) { return; }

  let a_base = (p.a_offset + block.batch * p.a_stride_batch) / 4u;
  let b_base = (p.b_offset + block.batch * p.b_stride_batch) / 4u;
  let row0 = a_base + min(block.m0, p.M - 1u) * p.a_stride_m / 4u;
  let row1 = a_base + min(block.m0 + 1u, p.M - 1u) * p.a_stride_m / 4u;
  let row2 = a_base + min(block.m0 + 2u, p.M - 1u) * p.a_stride_m / 4u;
  let row3 = a_base + min(block.m0 + 3u, p.M - 1u) * p.a_stride_m / 4u;
  let col0 = b_base + min(block.n0, p.N - 1u) * p.b_stride_n / 4u;
  let col1 = b_base + min(block.n0 + 1u, p.N - 1u) * p.b_stride_n / 4u;
  let col2 = b_base + min(block.n0 + 2u, p.N - 1u) * p.b_stride_n / 4u;
  let col3 = b_base + min(block.n0 + 3u, p.N - 1u) * p.b_stride_n / 4u;

  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k4 = 0u; k4 < p.K / 4u; k4++) {
    let w0 = b4[col0 + k4];
    let w1 = b4[col1 + k4];
    let w2 = b4[col2 + k4];
    let w3 = b4[col3 + k4];
    let x0 = a4[row0 + k4];
    let x1 = a4[row1 + k4];
    let x2 = a4[row2 + k4];
    let x3 = a4[row3 + k4];
    acc0 += vec4f(dot(x0, w0), dot(x0, w1), dot(x0, w2), dot(x0, w3));
    acc1 += vec4f(dot(x1, w0), dot(x1, w1), dot(x1, w2), dot(x1, w3));
    acc2 += vec4f(dot(x2, w0), dot(x2, w1), dot(x2, w2), dot(x2, w3));
    acc3 += vec4f(dot(x3, w0), dot(x3, w1), dot(x3, w2), dot(x3, w3));
  }
  store_block(block, acc0, acc1, acc2, acc3);
}

// B contiguous along n (dX = dY·W, dW = dYᵀ·X, token mixing): one vec4 of B and four
// scalars of A per k, 16 FMAs per 5 loads. Needs b_stride_n = 1 and N, b_stride_k,
// b_stride_batch and b_offset multiples of 4; A is read through its strides.
@compute @workgroup_size(64)
fn matmul_registers_bn4(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let block = block_of(local, wid, groups);
  if (!block.valid) { return; }

  let a_base = p.a_offset + block.batch * p.a_stride_batch;
  let row0 = a_base + min(block.m0, p.M - 1u) * p.a_stride_m;
  let row1 = a_base + min(block.m0 + 1u, p.M - 1u) * p.a_stride_m;
  let row2 = a_base + min(block.m0 + 2u, p.M - 1u) * p.a_stride_m;
  let row3 = a_base + min(block.m0 + 3u, p.M - 1u) * p.a_stride_m;
  let col = (p.b_offset + block.batch * p.b_stride_batch + block.n0) / 4u;
  let b_stride_k4 = p.b_stride_k / 4u;

  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k = 0u; k < p.K; k++) {
    let bv = b4[col + k * b_stride_k4];
    let ak = k * p.a_stride_k;
    acc0 = fma(vec4f(a[row0 + ak]), bv, acc0);
    acc1 = fma(vec4f(a[row1 + ak]), bv, acc1);
    acc2 = fma(vec4f(a[row2 + ak]), bv, acc2);
    acc3 = fma(vec4f(a[row3 + ak]), bv, acc3);
  }
  store_block(block, acc0, acc1, acc2, acc3);
}

// ---------------------------------------------------------------------------------------
// 8×8 register variant, for the same CPU-backed adapters: any strides, like
// matmul_registers, but each invocation computes an 8×8 block of C in sixteen vec4
// accumulators. Per k it loads 16 values for 64 FMAs, against 8 for 16 in a 4×4 block, and
// SwiftShader's lane-by-lane loads are what bound these kernels. At the TRM shapes it measured
// 1.1–2.0× the speed of the 4×4 variants before the k-unrolling below (SwiftShader 5.0.0 in
// Node's Dawn, mlp gate_up input grad 377 → 189 ms, mlp gate_up forward 226 → 212 ms). The
// compiler spills accumulators, which still costs less than the loads it saves.
// Dispatch: ceil(batch · ceil(M/8) · ceil(N/8) / 64) workgroups, folded into x and y.

// Four rows of C by eight columns, the accumulators of the 8×8 and quad variants: columns 0-3
// in rN_low, 4-7 in rN_high. On SwiftShader a function-scope struct read at constant members
// measured as fast as separate variables, unlike a dynamically indexed array.
struct Rows4x8 {
  r0_low: vec4f,
  r0_high: vec4f,
  r1_low: vec4f,
  r1_high: vec4f,
  r2_low: vec4f,
  r2_high: vec4f,
  r3_low: vec4f,
  r3_high: vec4f,
}

// B values of eight columns at two consecutive k: columns 0-3 in low, 4-7 in high.
struct ColumnSteps {
  low0: vec4f,
  high0: vec4f,
  low1: vec4f,
  high1: vec4f,
}

// Adds two k steps to four rows: a0 holds the rows' A values at k, a1 at k + 1. Both steps
// update an accumulator back to back, so a spilled accumulator is read and written once per
// two FMAs, which measured 1.15-1.25× faster in the 8×8 variant than one step per loop.
fn add_two_steps(rows: ptr<function, Rows4x8>, a0: vec4f, a1: vec4f, b: ColumnSteps) {
  (*rows).r0_low = fma(vec4f(a1.x), b.low1, fma(vec4f(a0.x), b.low0, (*rows).r0_low));
  (*rows).r0_high = fma(vec4f(a1.x), b.high1, fma(vec4f(a0.x), b.high0, (*rows).r0_high));
  (*rows).r1_low = fma(vec4f(a1.y), b.low1, fma(vec4f(a0.y), b.low0, (*rows).r1_low));
  (*rows).r1_high = fma(vec4f(a1.y), b.high1, fma(vec4f(a0.y), b.high0, (*rows).r1_high));
  (*rows).r2_low = fma(vec4f(a1.z), b.low1, fma(vec4f(a0.z), b.low0, (*rows).r2_low));
  (*rows).r2_high = fma(vec4f(a1.z), b.high1, fma(vec4f(a0.z), b.high0, (*rows).r2_high));
  (*rows).r3_low = fma(vec4f(a1.w), b.low1, fma(vec4f(a0.w), b.low0, (*rows).r3_low));
  (*rows).r3_high = fma(vec4f(a1.w), b.high1, fma(vec4f(a0.w), b.high0, (*rows).r3_high));
}

// Offset of column n of B (clamped to the last column) in the batch that starts at b_base.
fn column_offset(b_base: u32, n: u32) -> u32 {
  return b_base + min(n, p.N - 1u) * p.b_stride_n;
}

// Offsets of the eight columns from n0, clamped to the last column. Columns past it are never stored.
fn eight_columns(b_base: u32, n0: u32) -> array<u32, 8> {
  return array(
    column_offset(b_base, n0), column_offset(b_base, n0 + 1u),
    column_offset(b_base, n0 + 2u), column_offset(b_base, n0 + 3u),
    column_offset(b_base, n0 + 4u), column_offset(b_base, n0 + 5u),
    column_offset(b_base, n0 + 6u), column_offset(b_base, n0 + 7u),
  );
}

fn load_columns(cols: array<u32, 8>, bk: u32) -> array<vec4f, 2> {
  let low = vec4f(b[cols[0] + bk], b[cols[1] + bk], b[cols[2] + bk], b[cols[3] + bk]);
  let high = vec4f(b[cols[4] + bk], b[cols[5] + bk], b[cols[6] + bk], b[cols[7] + bk]);
  return array(low, high);
}

// The B values at k and k + 1.
fn load_column_steps(cols: array<u32, 8>, k: u32) -> ColumnSteps {
  let step0 = load_columns(cols, k * p.b_stride_k);
  let step1 = load_columns(cols, (k + 1u) * p.b_stride_k);
  return ColumnSteps(step0[0], step0[1], step1[0], step1[1]);
}

// The B values at the last k of an odd K, with a zero second step, so that add_two_steps adds
// 0 · 0 for it.
fn load_last_column_step(cols: array<u32, 8>, k: u32) -> ColumnSteps {
  let step = load_columns(cols, k * p.b_stride_k);
  return ColumnSteps(step[0], step[1], vec4f(0.0), vec4f(0.0));
}

fn store_rows(base: u32, m: u32, n: u32, rows: Rows4x8) {
  store_row(base, m, n, rows.r0_low);
  store_row(base, m, n + 4u, rows.r0_high);
  store_row(base, m + 1u, n, rows.r1_low);
  store_row(base, m + 1u, n + 4u, rows.r1_high);
  store_row(base, m + 2u, n, rows.r2_low);
  store_row(base, m + 2u, n + 4u, rows.r2_high);
  store_row(base, m + 3u, n, rows.r3_low);
  store_row(base, m + 3u, n + 4u, rows.r3_high);
}

// A values at column k of the four rows that start at the given offsets.
fn four_rows_at(rows: vec4u, k: u32) -> vec4f {
  let ak = k * p.a_stride_k;
  return vec4f(a[rows.x + ak], a[rows.y + ak], a[rows.z + ak], a[rows.w + ak]);
}

@compute @workgroup_size(64)
fn matmul_registers_8x8(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let block = block_of_size(local, wid, groups, 8u);
  if (!block.valid) { return; }

  // Rows and columns past the edge read the last valid one and are never stored.
  let a_base = p.a_offset + block.batch * p.a_stride_batch;
  let last = p.M - 1u;
  let top = a_base + min(block.m0 + vec4u(0u, 1u, 2u, 3u), vec4u(last)) * p.a_stride_m;
  let bottom = a_base + min(block.m0 + vec4u(4u, 5u, 6u, 7u), vec4u(last)) * p.a_stride_m;
  let cols = eight_columns(p.b_offset + block.batch * p.b_stride_batch, block.n0);

  // Rows 0-3 and 4-7 of the block, two k per iteration.
  var rows_top: Rows4x8;
  var rows_bottom: Rows4x8;
  var k = 0u;
  for (; k + 1u < p.K; k += 2u) {
    let steps = load_column_steps(cols, k);
    add_two_steps(&rows_top, four_rows_at(top, k), four_rows_at(top, k + 1u), steps);
    add_two_steps(&rows_bottom, four_rows_at(bottom, k), four_rows_at(bottom, k + 1u), steps);
  }
  if (k < p.K) {
    let steps = load_last_column_step(cols, k);
    add_two_steps(&rows_top, four_rows_at(top, k), vec4f(0.0), steps);
    add_two_steps(&rows_bottom, four_rows_at(bottom, k), vec4f(0.0), steps);
  }

  let c_base = block.batch * p.c_stride_batch;
  store_rows(c_base, block.m0, block.n0, rows_top);
  store_rows(c_base, block.m0 + 4u, block.n0, rows_bottom);
}
