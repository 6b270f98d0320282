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
  let b_base = p.b_offset + block.batch * p.b_stride_batch;
  let row0 = a_base + min(block.m0, p.M - 1u) * p.a_stride_m;
  let row1 = a_base + min(block.m0 + 1u, p.M - 1u) * p.a_stride_m;
  let row2 = a_base + min(block.m0 + 2u, p.M - 1u) * p.a_stride_m;
  let row3 = a_base + min(block.m0 + 3u, p.M - 1u) * p.a_stride_m;
  let row4 = a_base + min(block.m0 + 4u, p.M - 1u) * p.a_stride_m;
  let row5 = a_base + min(block.m0 + 5u, p.M - 1u) * p.a_stride_m;
  let row6 = a_base + min(block.m0 + 6u, p.M - 1u) * p.a_stride_m;
  let row7 = a_base + min(block.m0 + 7u, p.M - 1u) * p.a_stride_m;
  let col0 = b_base + min(block.n0, p.N - 1u) * p.b_stride_n;
  let col1 = b_base + min(block.n0 + 1u, p.N - 1u) * p.b_stride_n;
  let col2 = b_base + min(block.n0 + 2u, p.N - 1u) * p.b_stride_n;
  let col3 = b_base + min(block.n0 + 3u, p.N - 1u) * p.b_stride_n;
  let col4 = b_base + min(block.n0 + 4u, p.N - 1u) * p.b_stride_n;
  let col5 = b_base + min(block.n0 + 5u, p.N - 1u) * p.b_stride_n;
  let col6 = b_base + min(block.n0 + 6u, p.N - 1u) * p.b_stride_n;
  let col7 = b_base + min(block.n0 + 7u, p.N - 1u) * p.b_stride_n;

  var acc0l = vec4f(0.0);  // row 0, columns 0-3
  var acc0h = vec4f(0.0);  // row 0, columns 4-7
  var acc1l = vec4f(0.0);  // row 1, columns 0-3
  var acc1h = vec4f(0.0);  // row 1, columns 4-7
  var acc2l = vec4f(0.0);  // row 2, columns 0-3
  var acc2h = vec4f(0.0);  // row 2, columns 4-7
  var acc3l = vec4f(0.0);  // row 3, columns 0-3
  var acc3h = vec4f(0.0);  // row 3, columns 4-7
  var acc4l = vec4f(0.0);  // row 4, columns 0-3
  var acc4h = vec4f(0.0);  // row 4, columns 4-7
  var acc5l = vec4f(0.0);  // row 5, columns 0-3
  var acc5h = vec4f(0.0);  // row 5, columns 4-7
  var acc6l = vec4f(0.0);  // row 6, columns 0-3
  var acc6h = vec4f(0.0);  // row 6, columns 4-7
  var acc7l = vec4f(0.0);  // row 7, columns 0-3
  var acc7h = vec4f(0.0);  // row 7, columns 4-7
  // Two k per iteration, so each accumulator is read and written once per two FMAs: the
  // compiler keeps most of the sixteen in memory, and this measured 1.15-1.25× faster.
  var k = 0u;
  for (; k + 1u < p.K; k += 2u) {
    let bk0 = k * p.b_stride_k;
    let bk1 = bk0 + p.b_stride_k;
    let low0 = vec4f(b[col0 + bk0], b[col1 + bk0], b[col2 + bk0], b[col3 + bk0]);
    let high0 = vec4f(b[col4 + bk0], b[col5 + bk0], b[col6 + bk0], b[col7 + bk0]);
    let low1 = vec4f(b[col0 + bk1], b[col1 + bk1], b[col2 + bk1], b[col3 + bk1]);
    let high1 = vec4f(b[col4 + bk1], b[col5 + bk1], b[col6 + bk1], b[col7 + bk1]);
    let ak0 = k * p.a_stride_k;
    let ak1 = ak0 + p.a_stride_k;
    let a0k0 = vec4f(a[row0 + ak0]);
    let a0k1 = vec4f(a[row0 + ak1]);
    acc0l = fma(a0k1, low1, fma(a0k0, low0, acc0l));
    acc0h = fma(a0k1, high1, fma(a0k0, high0, acc0h));
    let a1k0 = vec4f(a[row1 + ak0]);
    let a1k1 = vec4f(a[row1 + ak1]);
    acc1l = fma(a1k1, low1, fma(a1k0, low0, acc1l));
    acc1h = fma(a1k1, high1, fma(a1k0, high0, acc1h));
    let a2k0 = vec4f(a[row2 + ak0]);
    let a2k1 = vec4f(a[row2 + ak1]);
    acc2l = fma(a2k1, low1, fma(a2k0, low0, acc2l));
    acc2h = fma(a2k1, high1, fma(a2k0, high0, acc2h));
    let a3k0 = vec4f(a[row3 + ak0]);
    let a3k1 = vec4f(a[row3 + ak1]);
    acc3l = fma(a3k1, low1, fma(a3k0, low0, acc3l));
    acc3h = fma(a3k1, high1, fma(a3k0, high0, acc3h));
    let a4k0 = vec4f(a[row4 + ak0]);
    let a4k1 = vec4f(a[row4 + ak1]);
    acc4l = fma(a4k1, low1, fma(a4k0, low0, acc4l));
    acc4h = fma(a4k1, high1, fma(a4k0, high0, acc4h));
    let a5k0 = vec4f(a[row5 + ak0]);
    let a5k1 = vec4f(a[row5 + ak1]);
    acc5l = fma(a5k1, low1, fma(a5k0, low0, acc5l));
    acc5h = fma(a5k1, high1, fma(a5k0, high0, acc5h));
    let a6k0 = vec4f(a[row6 + ak0]);
    let a6k1 = vec4f(a[row6 + ak1]);
    acc6l = fma(a6k1, low1, fma(a6k0, low0, acc6l));
    acc6h = fma(a6k1, high1, fma(a6k0, high0, acc6h));
    let a7k0 = vec4f(a[row7 + ak0]);
    let a7k1 = vec4f(a[row7 + ak1]);
    acc7l = fma(a7k1, low1, fma(a7k0, low0, acc7l));
    acc7h = fma(a7k1, high1, fma(a7k0, high0, acc7h));
  }
  if (k < p.K) {
    let bk = k * p.b_stride_k;
    let low = vec4f(b[col0 + bk], b[col1 + bk], b[col2 + bk], b[col3 + bk]);
    let high = vec4f(b[col4 + bk], b[col5 + bk], b[col6 + bk], b[col7 + bk]);
    let ak = k * p.a_stride_k;
    let a0 = vec4f(a[row0 + ak]);
    acc0l = fma(a0, low, acc0l);
    acc0h = fma(a0, high, acc0h);
    let a1 = vec4f(a[row1 + ak]);
    acc1l = fma(a1, low, acc1l);
    acc1h = fma(a1, high, acc1h);
    let a2 = vec4f(a[row2 + ak]);
    acc2l = fma(a2, low, acc2l);
    acc2h = fma(a2, high, acc2h);
    let a3 = vec4f(a[row3 + ak]);
    acc3l = fma(a3, low, acc3l);
    acc3h = fma(a3, high, acc3h);
    let a4 = vec4f(a[row4 + ak]);
    acc4l = fma(a4, low, acc4l);
    acc4h = fma(a4, high, acc4h);
    let a5 = vec4f(a[row5 + ak]);
    acc5l = fma(a5, low, acc5l);
    acc5h = fma(a5, high, acc5h);
    let a6 = vec4f(a[row6 + ak]);
    acc6l = fma(a6, low, acc6l);
    acc6h = fma(a6, high, acc6h);
    let a7 = vec4f(a[row7 + ak]);
    acc7l = fma(a7, low, acc7l);
    acc7h = fma(a7, high, acc7h);
  }

  let c_base = block.batch * p.c_stride_batch;
  store_row(c_base, block.m0, block.n0, acc0l);
  store_row(c_base, block.m0, block.n0 + 4u, acc0h);
  store_row(c_base, block.m0 + 1u, block.n0, acc1l);
  store_row(c_base, block.m0 + 1u, block.n0 + 4u, acc1h);
  store_row(c_base, block.m0 + 2u, block.n0, acc2l);
  store_row(c_base, block.m0 + 2u, block.n0 + 4u, acc2h);
  store_row(c_base, block.m0 + 3u, block.n0, acc3l);
  store_row(c_base, block.m0 + 3u, block.n0 + 4u, acc3h);
  store_row(c_base, block.m0 + 4u, block.n0, acc4l);
  store_row(c_base, block.m0 + 4u, block.n0 + 4u, acc4h);
  store_row(c_base, block.m0 + 5u, block.n0, acc5l);
  store_row(c_base, block.m0 + 5u, block.n0 + 4u, acc5h);
  store_row(c_base, block.m0 + 6u, block.n0, acc6l);
  store_row(c_base, block.m0 + 6u, block.n0 + 4u, acc6h);
  store_row(c_base, block.m0 + 7u, block.n0, acc7l);
  store_row(c_base, block.m0 + 7u, block.n0 + 4u, acc7h);
}
