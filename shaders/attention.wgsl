// Fused non-causal scaled dot-product attention over a fused qkv buffer, forward and backward.
//
// A token's 3·heads·headDim channels are q, then k, then v, each head-major: head h of q uses
// channels h·headDim … h·headDim + headDim − 1. For one (batch, head):
//   S = scale · Q·Kᵀ,  P = softmax(S) by rows,  O = P·V,  lse_i = log Σ_j exp(S_ij).
// The forward pass keeps the softmax in f32 with a running max (online softmax), so scores of
// any magnitude that f32 holds do not overflow. The backward pass recomputes P = exp(S − lse)
// and uses D_i = rowsum(dO_i ⊙ O_i):
//   dV = Pᵀ·dO,  dS = P ⊙ (dO·Vᵀ − D),  dQ = scale · dS·K,  dK = scale · dSᵀ·Q.
// It runs as two passes without atomics, so results are deterministic: one over query rows
// for dQ and one over key rows for dK and dV. Each computes D from O and dO itself.
//
// An invocation owns one row (tiled variant) or ROWS consecutive rows (register variant) of
// one (batch, head): query rows for the forward pass and dQ, key rows for dK and dV. Its row
// vectors live in vec4 arrays sized for the largest head dimension, MAX_HEAD_VECS vec4s.

struct Params {
  batch: u32,
  seq: u32,
  heads: u32,
  scale: f32,
}

// The forward pass binds 0–3, the backward passes 0–5.
@group(0) @binding(0) var<storage, read> qkv: array<vec4f>;          // [batch, seq, 3·heads·headDim], q and k after RoPE
@group(0) @binding(1) var<storage, read_write> out: array<vec4f>;    // [batch, seq, heads·headDim]; forward writes, backward reads
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;      // [batch, heads, seq]; forward writes, backward reads
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> d_out: array<vec4f>;        // [batch, seq, heads·headDim]
@group(0) @binding(5) var<storage, read_write> dqkv: array<vec4f>;   // [batch, seq, 3·heads·headDim], every element written

override HEAD_DIM: u32 = 64u;  // a multiple of 4, at most 4·MAX_HEAD_VECS
override HEAD_VECS: u32 = HEAD_DIM / 4u;
const MAX_HEAD_VECS = 16u;

// Lowest finite f32: the running max before the first key, so that exp(LOWEST − score) is 0.
const LOWEST_F32 = -0x1.fffffep+127f;

struct Row {
  batch: u32,
  head: u32,
  position: u32,
}

// Vec4 index of channel 0 of the row's head in q (section 0), k (1) or v (2).
fn qkv_index(row: Row, section: u32) -> u32 {
  let token = row.batch * p.seq + row.position;
  return (token * 3u * p.heads + section * p.heads + row.head) * HEAD_VECS;
}

// Vec4 index of channel 0 of the row's head in out, d_out, and the q section of dqkv.
fn out_index(row: Row) -> u32 {
  return ((row.batch * p.seq + row.position) * p.heads + row.head) * HEAD_VECS;
}

fn lse_index(row: Row) -> u32 {
  return (row.batch * p.heads + row.head) * p.seq + row.position;
}

// D = rowsum(dO ⊙ O) of one query row.
fn row_delta(row: Row) -> f32 {
  let base = out_index(row);
  var delta = 0.0;
  for (var d = 0u; d < HEAD_VECS; d++) {
    delta += dot(d_out[base + d], out[base + d]);
  }
  return delta;
}

// exp and log that return NaN for a NaN argument, so a NaN in q or k reaches the outputs:
// SwiftShader's exp returns +inf and its log 89.1 for NaN. x − x is 0 for finite x and NaN for NaN.
fn exp_keep_nan(x: f32) -> f32 {
  return exp(x) + (x - x);
}

fn exp4_keep_nan(x: vec4f) -> vec4f {
  return exp(x) + (x - x);
}

fn log_keep_nan(x: f32) -> f32 {
  return log(x) + (x - x);
}

// ---------------------------------------------------------------------------------------
// Tiled variant, for GPUs: a workgroup of BLOCK_ROWS invocations takes BLOCK_ROWS consecutive
// rows of one (batch, head) and walks the other operand TILE_ROWS rows at a time, staging
// them in workgroup memory. Rows past the end of the sequence are computed on a repeated row
// and never stored. Dispatch: (ceil(seq / BLOCK_ROWS), batch · heads, 1).

const BLOCK_ROWS = 64u;
const TILE_ROWS = 16u;

var<workgroup> tile_a: array<vec4f, TILE_ROWS * MAX_HEAD_VECS>;  // [TILE_ROWS, HEAD_VECS]: k (forward, dQ) or q (dK, dV)
var<workgroup> tile_b: array<vec4f, TILE_ROWS * MAX_HEAD_VECS>;  // [TILE_ROWS, HEAD_VECS]: v (forward, dQ) or dO (dK, dV)
var<workgroup> tile_lse: array<f32, TILE_ROWS>;                  // [TILE_ROWS] (dK, dV)
var<workgroup> tile_delta: array<f32, TILE_ROWS>;                // [TILE_ROWS] (dK, dV)

// Per-row state. Private variables are per invocation; each kernel uses the ones it needs.

var<private> query: array<vec4f, MAX_HEAD_VECS>;       // q_i (forward, dQ)
var<private> grad_out: array<vec4f, MAX_HEAD_VECS>;    // dO_i (dQ)
var<private> acc: array<vec4f, MAX_HEAD_VECS>;         // unnormalised O_i (forward), dQ_i / scale (dQ)
var<private> key: array<vec4f, MAX_HEAD_VECS>;         // k_j (dK, dV)
var<private> value: array<vec4f, MAX_HEAD_VECS>;       // v_j (dK, dV)
var<private> grad_key: array<vec4f, MAX_HEAD_VECS>;    // dK_j / scale (dK, dV)
var<private> grad_value: array<vec4f, MAX_HEAD_VECS>;  // dV_j (dK, dV)
var<private> running_max: f32;
var<private> running_sum: f32;

fn begin_forward_row(row: Row) {
  let base = qkv_index(row, 0u);
  for (var d = 0u; d < HEAD_VECS; d++) {
    query[d] = qkv[base + d];
    acc[d] = vec4f(0.0);
  }
  running_max = LOWEST_F32;
  running_sum = 0.0;
}

// Folds one score into the running max and sum and returns the key's weight exp(score − max).
// When the max grows, the sum and the output accumulator are rescaled to the new max. A NaN
// score leaves the max as it is, and its weight turns the sum and the output into NaN.
fn online_softmax_weight(score: f32) -> f32 {
  if (score > running_max) {
    let correction = exp_keep_nan(running_max - score);
    running_sum *= correction;
    for (var d = 0u; d < HEAD_VECS; d++) {
      acc[d] *= correction;
    }
    running_max = score;
  }
  let weight = exp_keep_nan(score - running_max);
  running_sum += weight;
  return weight;
}

fn end_forward_row(row: Row) {
  let base = out_index(row);
  for (var d = 0u; d < HEAD_VECS; d++) {
    out[base + d] = acc[d] / running_sum;
  }
  lse[lse_index(row)] = running_max + log_keep_nan(running_sum);
}

fn begin_query_grad_row(row: Row) {
  let q_base = qkv_index(row, 0u);
  let o_base = out_index(row);
  for (var d = 0u; d < HEAD_VECS; d++) {
    query[d] = qkv[q_base + d];
    grad_out[d] = d_out[o_base + d];
    acc[d] = vec4f(0.0);
  }
}

fn end_query_grad_row(row: Row) {
  let base = qkv_index(row, 0u);
  for (var d = 0u; d < HEAD_VECS; d++) {
    dqkv[base + d] = p.scale * acc[d];
  }
}

fn begin_key_grad_row(row: Row) {
  let k_base = qkv_index(row, 1u);
  let v_base = qkv_index(row, 2u);
  for (var d = 0u; d < HEAD_VECS; d++) {
    key[d] = qkv[k_base + d];
    value[d] = qkv[v_base + d];
    grad_key[d] = vec4f(0.0);
    grad_value[d] = vec4f(0.0);
  }
}

fn end_key_grad_row(row: Row) {
  let k_base = qkv_index(row, 1u);
  let v_base = qkv_index(row, 2u);
  for (var d = 0u; d < HEAD_VECS; d++) {
    dqkv[k_base + d] = p.scale * grad_key[d];
    dqkv[v_base + d] = grad_value[d];
  }
}

fn block_row(local: u32, wid: vec3u) -> Row {
  let position = min(wid.x * BLOCK_ROWS + local, p.seq - 1u);
  return Row(wid.y / p.heads, wid.y % p.heads, position);
}

fn is_stored(local: u32, wid: vec3u) -> bool {
  return wid.x * BLOCK_ROWS + local < p.seq;
}

// Stages k and v of keys first … first + TILE_ROWS − 1 into tile_a and tile_b.
fn stage_keys(local: u32, row: Row, first: u32) {
  for (var e = local; e < TILE_ROWS * HEAD_VECS; e += BLOCK_ROWS) {
    let position = min(first + e / HEAD_VECS, p.seq - 1u);
    let k_base = qkv_index(Row(row.batch, row.head, position), 1u);
    let d = e % HEAD_VECS;
    tile_a[e] = qkv[k_base + d];
    tile_b[e] = qkv[k_base + p.heads * HEAD_VECS + d];
  }
}

// Stages q and dO of queries first … first + TILE_ROWS − 1 into tile_a and tile_b, with
// their lse and D.
fn stage_queries(local: u32, row: Row, first: u32) {
  for (var e = local; e < TILE_ROWS * HEAD_VECS; e += BLOCK_ROWS) {
    let query_row = Row(row.batch, row.head, min(first + e / HEAD_VECS, p.seq - 1u));
    let d = e % HEAD_VECS;
    tile_a[e] = qkv[qkv_index(query_row, 0u) + d];
    tile_b[e] = d_out[out_index(query_row) + d];
  }
  if (local < TILE_ROWS) {
    let query_row = Row(row.batch, row.head, min(first + local, p.seq - 1u));
    tile_lse[local] = lse[lse_index(query_row)];
    tile_delta[local] = row_delta(query_row);
  }
}

@compute @workgroup_size(64)
fn attention_forward_tiled(@builtin(local_invocation_index) local: u32, @builtin(workgroup_id) wid: vec3u) {
  let row = block_row(local, wid);
  begin_forward_row(row);

  for (var first = 0u; first < p.seq; first += TILE_ROWS) {
    stage_keys(local, row, first);
    workgroupBarrier();

    let count = min(TILE_ROWS, p.seq - first);
    for (var r = 0u; r < count; r++) {
      var qk = 0.0;
      for (var d = 0u; d < HEAD_VECS; d++) {
        qk += dot(query[d], tile_a[r * HEAD_VECS + d]);
      }
      let weight = online_softmax_weight(p.scale * qk);
      for (var d = 0u; d < HEAD_VECS; d++) {
        acc[d] = fma(vec4f(weight), tile_b[r * HEAD_VECS + d], acc[d]);
      }
    }
    workgroupBarrier();
  }

  if (is_stored(local, wid)) { end_forward_row(row); }
}

@compute @workgroup_size(64)
fn attention_query_grad_tiled(@builtin(local_invocation_index) local: u32, @builtin(workgroup_id) wid: vec3u) {
  let row = block_row(local, wid);
  begin_query_grad_row(row);
  let row_lse = lse[lse_index(row)];
  let delta = row_delta(row);

  for (var first = 0u; first < p.seq; first += TILE_ROWS) {
    stage_keys(local, row, first);
    workgroupBarrier();

    let count = min(TILE_ROWS, p.seq - first);
    for (var r = 0u; r < count; r++) {
      var qk = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < HEAD_VECS; d++) {
        qk += dot(query[d], tile_a[r * HEAD_VECS + d]);
        dp += dot(grad_out[d], tile_b[r * HEAD_VECS + d]);
      }
      let score_grad = exp_keep_nan(p.scale * qk - row_lse) * (dp - delta);
      for (var d = 0u; d < HEAD_VECS; d++) {
        acc[d] = fma(vec4f(score_grad), tile_a[r * HEAD_VECS + d], acc[d]);
      }
    }
    workgroupBarrier();
  }

  if (is_stored(local, wid)) { end_query_grad_row(row); }
}

@compute @workgroup_size(64)
fn attention_key_value_grad_tiled(@builtin(local_invocation_index) local: u32, @builtin(workgroup_id) wid: vec3u) {
  let row = block_row(local, wid);
  begin_key_grad_row(row);

  for (var first = 0u; first < p.seq; first += TILE_ROWS) {
    stage_queries(local, row, first);
    workgroupBarrier();

    let count = min(TILE_ROWS, p.seq - first);
    for (var r = 0u; r < count; r++) {
      var qk = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < HEAD_VECS; d++) {
        qk += dot(tile_a[r * HEAD_VECS + d], key[d]);
        dp += dot(tile_b[r * HEAD_VECS + d], value[d]);
      }
      let probability = exp_keep_nan(p.scale * qk - tile_lse[r]);
      let score_grad = probability * (dp - tile_delta[r]);
      for (var d = 0u; d < HEAD_VECS; d++) {
        grad_value[d] = fma(vec4f(probability), tile_b[r * HEAD_VECS + d], grad_value[d]);
        grad_key[d] = fma(vec4f(score_grad), tile_a[r * HEAD_VECS + d], grad_key[d]);
      }
    }
    workgroupBarrier();
  }

  if (is_stored(local, wid)) { end_key_grad_row(row); }
}

// ---------------------------------------------------------------------------------------
// Register variant, for CPU-backed adapters such as SwiftShader, where a barrier costs far
// more than it saves: no workgroup memory, and the other operand's rows are read straight
// from global memory. Each invocation computes ROWS consecutive rows of one (batch, head), so
// every row it reads serves ROWS rows. Their scores, running maxima and sums are the ROWS
// components of a vec4, and their vectors are the row-major [ROWS, MAX_HEAD_VECS] arrays.
// Rows past the end of the sequence repeat the last row and are never stored.
// Dispatch: ceil(batch · heads · ceil(seq / ROWS) / 64) workgroups, folded into x and y.

const ROWS = 4u;

// Blocks of ROWS rows are numbered over (batch, head, block), block fastest.
fn block_index(local: u32, wid: vec3u, groups: vec3u) -> u32 {
  return (wid.x + wid.y * groups.x) * 64u + local;
}

fn block_count() -> u32 {
  return p.batch * p.heads * ((p.seq + ROWS - 1u) / ROWS);
}

fn first_row_of_block(block: u32) -> Row {
  let blocks_per_head = (p.seq + ROWS - 1u) / ROWS;
  let head_index = block / blocks_per_head;
  return Row(head_index / p.heads, head_index % p.heads, (block % blocks_per_head) * ROWS);
}

fn nth_row(first: Row, r: u32) -> Row {
  return Row(first.batch, first.head, min(first.position + r, p.seq - 1u));
}

fn is_row_stored(first: Row, r: u32) -> bool {
  return first.position + r < p.seq;
}

// The helpers below spell out the ROWS = 4 rows: written as loops over r they run about 20%
// slower on SwiftShader.

// (rows[0][d] · v, …, rows[3][d] · v): vec4 d's share of the four rows' dot products with v.
fn dot_rows(rows: ptr<function, array<vec4f, ROWS * MAX_HEAD_VECS>>, d: u32, v: vec4f) -> vec4f {
  return vec4f(
    dot((*rows)[d], v),
    dot((*rows)[MAX_HEAD_VECS + d], v),
    dot((*rows)[2u * MAX_HEAD_VECS + d], v),
    dot((*rows)[3u * MAX_HEAD_VECS + d], v),
  );
}

// rows[r][d] = scales[r] · rows[r][d] + weights[r] · v for the four rows r.
fn update_rows(rows: ptr<function, array<vec4f, ROWS * MAX_HEAD_VECS>>, d: u32, scales: vec4f, weights: vec4f, v: vec4f) {
  (*rows)[d] = fma(vec4f(weights.x), v, scales.x * (*rows)[d]);
  (*rows)[MAX_HEAD_VECS + d] = fma(vec4f(weights.y), v, scales.y * (*rows)[MAX_HEAD_VECS + d]);
  (*rows)[2u * MAX_HEAD_VECS + d] = fma(vec4f(weights.z), v, scales.z * (*rows)[2u * MAX_HEAD_VECS + d]);
  (*rows)[3u * MAX_HEAD_VECS + d] = fma(vec4f(weights.w), v, scales.w * (*rows)[3u * MAX_HEAD_VECS + d]);
}

// rows[r][d] += weights[r] · v for the four rows r.
fn add_scaled_rows(rows: ptr<function, array<vec4f, ROWS * MAX_HEAD_VECS>>, d: u32, weights: vec4f, v: vec4f) {
  (*rows)[d] = fma(vec4f(weights.x), v, (*rows)[d]);
  (*rows)[MAX_HEAD_VECS + d] = fma(vec4f(weights.y), v, (*rows)[MAX_HEAD_VECS + d]);
  (*rows)[2u * MAX_HEAD_VECS + d] = fma(vec4f(weights.z), v, (*rows)[2u * MAX_HEAD_VECS + d]);
  (*rows)[3u * MAX_HEAD_VECS + d] = fma(vec4f(weights.w), v, (*rows)[3u * MAX_HEAD_VECS + d]);
}

@compute @workgroup_size(64)
fn attention_forward_registers(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let block = block_index(local, wid, groups);
  if (block >= block_count()) { return; }
  let first = first_row_of_block(block);

  var queries: array<vec4f, ROWS * MAX_HEAD_VECS>;
  var outputs: array<vec4f, ROWS * MAX_HEAD_VECS>;  // unnormalised O rows
  for (var r = 0u; r < ROWS; r++) {
    let base = qkv_index(nth_row(first, r), 0u);
    for (var d = 0u; d < HEAD_VECS; d++) {
      queries[r * MAX_HEAD_VECS + d] = qkv[base + d];
    }
  }

  // Online softmax as in online_softmax_weight, for ROWS rows at once and without a branch:
  // rescaling by a correction of 1 on every key runs faster on SwiftShader than branching.
  var running_max = vec4f(LOWEST_F32);
  var running_sum = vec4f(0.0);
  for (var j = 0u; j < p.seq; j++) {
    let k_base = qkv_index(Row(first.batch, first.head, j), 1u);
    let v_base = k_base + p.heads * HEAD_VECS;
    var qk = vec4f(0.0);
    for (var d = 0u; d < HEAD_VECS; d++) {
      qk += dot_rows(&queries, d, qkv[k_base + d]);
    }
    let score = p.scale * qk;

    let new_max = max(running_max, score);
    let correction = exp4_keep_nan(running_max - new_max);
    let weight = exp4_keep_nan(score - new_max);
    running_sum = running_sum * correction + weight;
    running_max = new_max;
    for (var d = 0u; d < HEAD_VECS; d++) {
      update_rows(&outputs, d, correction, weight, qkv[v_base + d]);
    }
  }

  for (var r = 0u; r < ROWS; r++) {
    if (!is_row_stored(first, r)) { break; }
    let row = nth_row(first, r);
    let base = out_index(row);
    for (var d = 0u; d < HEAD_VECS; d++) {
      out[base + d] = outputs[r * MAX_HEAD_VECS + d] / running_sum[r];
    }
    lse[lse_index(row)] = running_max[r] + log_keep_nan(running_sum[r]);
  }
}

@compute @workgroup_size(64)
fn attention_query_grad_registers(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let block = block_index(local, wid, groups);
  if (block >= block_count()) { return; }
  let first = first_row_of_block(block);

  var queries: array<vec4f, ROWS * MAX_HEAD_VECS>;
  var grad_outs: array<vec4f, ROWS * MAX_HEAD_VECS>;
  var grad_queries: array<vec4f, ROWS * MAX_HEAD_VECS>;  // dQ / scale
  var row_lse: vec4f;
  var delta: vec4f;
  for (var r = 0u; r < ROWS; r++) {
    let row = nth_row(first, r);
    let q_base = qkv_index(row, 0u);
    let o_base = out_index(row);
    for (var d = 0u; d < HEAD_VECS; d++) {
      queries[r * MAX_HEAD_VECS + d] = qkv[q_base + d];
      grad_outs[r * MAX_HEAD_VECS + d] = d_out[o_base + d];
    }
    row_lse[r] = lse[lse_index(row)];
    delta[r] = row_delta(row);
  }

  for (var j = 0u; j < p.seq; j++) {
    let k_base = qkv_index(Row(first.batch, first.head, j), 1u);
    let v_base = k_base + p.heads * HEAD_VECS;
    var qk = vec4f(0.0);
    var dp = vec4f(0.0);
    for (var d = 0u; d < HEAD_VECS; d++) {
      qk += dot_rows(&queries, d, qkv[k_base + d]);
      dp += dot_rows(&grad_outs, d, qkv[v_base + d]);
    }
    let score_grad = exp4_keep_nan(p.scale * qk - row_lse) * (dp - delta);
    for (var d = 0u; d < HEAD_VECS; d++) {
      add_scaled_rows(&grad_queries, d, score_grad, qkv[k_base + d]);
    }
  }

  for (var r = 0u; r < ROWS; r++) {
    if (!is_row_stored(first, r)) { break; }
    let base = qkv_index(nth_row(first, r), 0u);
    for (var d = 0u; d < HEAD_VECS; d++) {
      dqkv[base + d] = p.scale * grad_queries[r * MAX_HEAD_VECS + d];
    }
  }
}

// Without workgroup memory to share D between key rows, each invocation recomputes D_i from O
// and dO for every query row it visits, once for its ROWS key rows.
@compute @workgroup_size(64)
fn attention_key_value_grad_registers(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let block = block_index(local, wid, groups);
  if (block >= block_count()) { return; }
  let first = first_row_of_block(block);

  var keys: array<vec4f, ROWS * MAX_HEAD_VECS>;
  var values: array<vec4f, ROWS * MAX_HEAD_VECS>;
  var grad_keys: array<vec4f, ROWS * MAX_HEAD_VECS>;  // dK / scale
  var grad_values: array<vec4f, ROWS * MAX_HEAD_VECS>;
  for (var r = 0u; r < ROWS; r++) {
    let k_base = qkv_index(nth_row(first, r), 1u);
    let v_base = k_base + p.heads * HEAD_VECS;
    for (var d = 0u; d < HEAD_VECS; d++) {
      keys[r * MAX_HEAD_VECS + d] = qkv[k_base + d];
      values[r * MAX_HEAD_VECS + d] = qkv[v_base + d];
    }
  }

  for (var i = 0u; i < p.seq; i++) {
    let query_row = Row(first.batch, first.head, i);
    let q_base = qkv_index(query_row, 0u);
    let o_base = out_index(query_row);
    var qk = vec4f(0.0);
    var dp = vec4f(0.0);
    var delta = 0.0;
    for (var d = 0u; d < HEAD_VECS; d++) {
      let grad = d_out[o_base + d];
      qk += dot_rows(&keys, d, qkv[q_base + d]);
      dp += dot_rows(&values, d, grad);
      delta += dot(grad, out[o_base + d]);
    }
    let probability = exp4_keep_nan(p.scale * qk - lse[lse_index(query_row)]);
    let score_grad = probability * (dp - delta);
    for (var d = 0u; d < HEAD_VECS; d++) {
      add_scaled_rows(&grad_values, d, probability, d_out[o_base + d]);
      add_scaled_rows(&grad_keys, d, score_grad, qkv[q_base + d]);
    }
  }

  for (var r = 0u; r < ROWS; r++) {
    if (!is_row_stored(first, r)) { break; }
    let k_base = qkv_index(nth_row(first, r), 1u);
    let v_base = k_base + p.heads * HEAD_VECS;
    for (var d = 0u; d < HEAD_VECS; d++) {
      dqkv[k_base + d] = p.scale * grad_keys[r * MAX_HEAD_VECS + d];
      dqkv[v_base + d] = grad_values[r * MAX_HEAD_VECS + d];
    }
  }
}
