// Input encoding: token and puzzle embeddings laid out as the model's input sequence, and its
// backward pass. Sequence layout per sample (length = prefix + seq):
//   position 0                 puzzle-table row of the sample's puzzle id
//   positions 1 .. prefix-1    zero (extra register positions)
//   position prefix + s        token-table row of tokens[b, s]
// and every value is multiplied by scale = sqrt(hidden).
//
// Ids outside their table never read out of bounds: the read is clamped to a valid row and the
// whole output row is set to quiet NaN (bits 0x7FC00000), so the bad sample poisons the loss
// instead of silently using another row. The backward pass drops their gradient.
//
// Each entry point binds its own variables; binding numbers repeat across entry points.
// Invocations are numbered over a flat range; dispatches fold counts above 65535 workgroups
// into y, so the flat workgroup index is wid.x + wid.y * num_workgroups.x.

struct Params {
  batch: u32,
  seq: u32,
  prefix: u32,
  hidden: u32,
  vocab: u32,
  puzzle_rows: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn flat_index(local: u32, wid: vec3u, groups: vec3u) -> u32 {
  return (wid.x + wid.y * groups.x) * 64u + local;
}

fn quiet_nan() -> f32 {
  // A var, so the bit pattern is not a constant expression (which may not evaluate to NaN).
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}

// ---------------------------------------------------------------------------------------
// Forward. One invocation per element of x.
// Dispatch: ceil(batch · (prefix + seq) · hidden / 64) workgroups.

@group(0) @binding(1) var<storage, read> tokens: array<i32>;             // [batch, seq]
@group(0) @binding(2) var<storage, read> token_table: array<f32>;        // [vocab, hidden]
@group(0) @binding(3) var<storage, read> puzzle_ids: array<i32>;         // [batch]
@group(0) @binding(4) var<storage, read> puzzle_table: array<f32>;       // [puzzle_rows, hidden]
@group(0) @binding(5) var<storage, read_write> x: array<f32>;            // [batch, prefix + seq, hidden]

fn token_value(id: i32, channel: u32) -> f32 {
  let row = u32(clamp(id, 0, i32(p.vocab) - 1));
  let value = token_table[row * p.hidden + channel];
  return select(quiet_nan(), value, id >= 0 && id < i32(p.vocab));
}

fn puzzle_value(id: i32, channel: u32) -> f32 {
  let row = u32(clamp(id, 0, i32(p.puzzle_rows) - 1));
  let value = puzzle_table[row * p.hidden + channel];
  return select(quiet_nan(), value, id >= 0 && id < i32(p.puzzle_rows));
}

@compute @workgroup_size(64)
fn input_embedding(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let length = p.prefix + p.seq;
  let index = flat_index(local, wid, groups);
  if (index >= p.batch * length * p.hidden) { return; }

  let channel = index % p.hidden;
  let position = (index / p.hidden) % length;
  let sample = index / (p.hidden * length);

  var value = 0.0;
  if (position >= p.prefix) {
    value = token_value(tokens[sample * p.seq + position - p.prefix], channel);
  } else if (position == 0u) {
    value = puzzle_value(puzzle_ids[sample], channel);
  }
  x[index] = value * p.scale;
}

// ---------------------------------------------------------------------------------------
// Backward. Invocations [0, vocab · hidden) each own one element of dTokenTable and add
// scale · (sum of dx over the token positions holding that row's id), summed in sequence
// order, so the result is deterministic without float atomics. Invocations
// [vocab · hidden, (vocab + batch) · hidden) write the per-sample puzzle gradient
// scale · dx[b, 0]; the sparse optimizer sums it per puzzle id.
// Dispatch: ceil((vocab + batch) · hidden / 64) workgroups.

@group(0) @binding(1) var<storage, read> grad_tokens: array<i32>;        // [batch, seq]
@group(0) @binding(2) var<storage, read> dx: array<f32>;                 // [batch, prefix + seq, hidden]
@group(0) @binding(3) var<storage, read_write> d_token_table: array<f32>; // [vocab, hidden], accumulated
@group(0) @binding(4) var<storage, read_write> d_puzzle: array<f32>;     // [batch, hidden]

fn token_row_gradient(row: i32, channel: u32) -> f32 {
  let length = p.prefix + p.seq;
  var sum = 0.0;
  for (var sample = 0u; sample < p.batch; sample++) {
    for (var s = 0u; s < p.seq; s++) {
      if (grad_tokens[sample * p.seq + s] == row) {
        sum += dx[(sample * length + p.prefix + s) * p.hidden + channel];
      }
    }
  }
  return sum;
}

@compute @workgroup_size(64)
fn input_embedding_backward(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let index = flat_index(local, wid, groups);
  let table_size = p.vocab * p.hidden;
  if (index < table_size) {
    let sum = token_row_gradient(i32(index / p.hidden), index % p.hidden);
    d_token_table[index] += p.scale * sum;
    return;
  }

  let puzzle_index = index - table_size;
  if (puzzle_index >= p.batch * p.hidden) { return; }
  let sample = puzzle_index / p.hidden;
  let channel = puzzle_index % p.hidden;
  d_puzzle[puzzle_index] = p.scale * dx[sample * (p.prefix + p.seq) * p.hidden + channel];
}
