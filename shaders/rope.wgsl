// Rotary position embedding in the rotate-half (GPT-NeoX) convention, applied in place to the
// q and k sections of a fused qkv buffer; the v section is left as it is.
//
// For i < half = headDim/2, the pair (x[i], x[i + half]) of a head at position pos is rotated by
// the angle pos · base^(−2i/headDim):
//   forward:  (x[i]·cos − x[i + half]·sin,  x[i + half]·cos + x[i]·sin)
// which is x·cos + rotate_half(x)·sin with rotate_half(x) = concat(−x[half:], x[:half]).
// The backward pass applies the transpose, a rotation by −angle, to dq and dk in a dqkv buffer
// of the same layout: the same code with sin_sign = −1.

struct Params {
  pairs: u32,     // batch · seq · 2 · heads · half: one invocation per rotated pair
  seq: u32,
  heads: u32,
  half_dim: u32,
  sin_sign: f32,  // +1 forward, −1 backward
}

@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;  // [batch, seq, 3·heads·headDim], q and k rotated in place
@group(0) @binding(1) var<storage, read> table: array<vec2f>;    // [seq, headDim/2] of (cos, sin)
@group(0) @binding(2) var<uniform> p: Params;

// Invocations are numbered over (token, q or k head, i), i fastest. The q heads and the k
// heads are adjacent in a token's channels, so 2·heads consecutive heads cover both.
// Dispatch: ceil(pairs / 64) workgroups, folded into x and y.
@compute @workgroup_size(64)
fn rope(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let flat = (wid.x + wid.y * groups.x) * 64u + local;
  if (flat >= p.pairs) { return; }

  let i = flat % p.half_dim;
  let head = (flat / p.half_dim) % (2u * p.heads);
  let token = flat / (p.half_dim * 2u * p.heads);
  let position = token % p.seq;
  let first = token * 6u * p.heads * p.half_dim + head * 2u * p.half_dim + i;
  let second = first + p.half_dim;

  let angle = table[position * p.half_dim + i];
  let cos_angle = angle.x;
  let sin_angle = p.sin_sign * angle.y;
  let x1 = qkv[first];
  let x2 = qkv[second];
  qkv[first] = x1 * cos_angle - x2 * sin_angle;
  qkv[second] = x2 * cos_angle + x1 * sin_angle;
}
