// Batched strided matrix product: C[b] = alpha · op(A[b]) · op(B[b]) (+ C[b] when accumulating).
// Transposes are expressed through strides, so one kernel serves Y = X·Wᵀ (linear forward),
// dX = dY·W, dW += dYᵀ·X and the token-mixing products that act along the sequence axis.
//
// Element (m, k) of A is a[batch·a_stride_batch + m·a_stride_m + k·a_stride_k], likewise for
// B with (k, n). C is row-major [batch, M, N] with row stride N.

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
  let a_base = wid.z * p.a_stride_batch;
  let b_base = wid.z * p.b_stride_batch;
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
// Dispatch: ceil(batch · ceil(M/4) · ceil(N/4) / 64) workgroups, folded into x and y.

@compute @workgroup_size(64)
fn matmul_registers(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let n_blocks = (p.N + 3u) / 4u;
  let m_blocks = (p.M + 3u) / 4u;
  let flat = (wid.x + wid.y * groups.x) * 64u + local;
  if (flat >= n_blocks * m_blocks * p.batch) { return; }

  let n0 = (flat % n_blocks) * 4u;
  let m0 = ((flat / n_blocks) % m_blocks) * 4u;
  let batch = flat / (n_blocks * m_blocks);
  let a_base = batch * p.a_stride_batch;
  let b_base = batch * p.b_stride_batch;

  // Rows and columns past the edge read the last valid one and are never stored.
  var a_row: array<u32, 4>;
  var b_col: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    a_row[i] = a_base + min(m0 + i, p.M - 1u) * p.a_stride_m;
    b_col[i] = b_base + min(n0 + i, p.N - 1u) * p.b_stride_n;
  }

  var acc: array<f32, 16>;
  for (var k = 0u; k < p.K; k++) {
    var av: array<f32, 4>;
    var bv: array<f32, 4>;
    for (var i = 0u; i < 4u; i++) {
      av[i] = a[a_row[i] + k * p.a_stride_k];
      bv[i] = b[b_col[i] + k * p.b_stride_k];
    }
    for (var i = 0u; i < 4u; i++) {
      for (var j = 0u; j < 4u; j++) {
        acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]);
      }
    }
  }

  let c_base = batch * p.c_stride_batch;
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      store_c(c_base, m0 + i, n0 + j, acc[i * 4u + j]);
    }
  }
}
