// SwiGLU activation on the output of the fused gate|up projection, forward and backward:
// hidden = silu(gate) ⊙ up, with silu(x) = x · sigmoid(x).
//
// gate_up is [outer, 2, half] and hidden is [outer, half]. Element e = o·half + r of hidden
// reads gate at gate_up[e + o·half] and up at gate_up[e + o·half + half]. This covers both
// layouts the model uses:
// - channel mixing, [rows, 2·inner]: outer = rows, half = inner;
// - token mixing, [batch, 2·inner, channels]: outer = batch, half = inner·channels.
//
// Each invocation handles four consecutive elements of hidden. The `_aligned` entry points
// read and write them as vec4s, which needs half % 4 == 0 so that a vec4 never straddles the
// gate/up boundary. The `_unaligned` entry points load the four lanes one by one.
// Dispatch: ceil(ceil(count / 4) / 64) workgroups, folded into x and y.

struct Params {
  count: u32,  // elements of hidden: outer · half
  half: u32,
}

struct Invocation {
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) local: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// Forward bindings.
@group(0) @binding(1) var<storage, read_write> hidden4: array<vec4f>;     // [outer, half / 4]
@group(0) @binding(2) var<storage, read> gate_up4: array<vec4f>;          // [outer, 2, half / 4]
@group(0) @binding(1) var<storage, read_write> hidden1: array<f32>;       // [outer, half]
@group(0) @binding(2) var<storage, read> gate_up1: array<f32>;            // [outer, 2, half]

// Backward bindings; binding 2 is gate_up4 / gate_up1, saved from the forward pass.
@group(0) @binding(1) var<storage, read_write> d_gate_up4: array<vec4f>;  // [outer, 2, half / 4]
@group(0) @binding(3) var<storage, read> d_hidden4: array<vec4f>;         // [outer, half / 4]
@group(0) @binding(1) var<storage, read_write> d_gate_up1: array<f32>;    // [outer, 2, half]
@group(0) @binding(3) var<storage, read> d_hidden1: array<f32>;           // [outer, half]

// sigmoid(x) from e = exp(−|x|) ≤ 1, so no exponential overflows: at x = ±1000 it returns
// exactly 1 or 0. A NaN input fails x >= 0 and propagates through e.
fn sigmoid_from(x: vec4f, e: vec4f) -> vec4f {
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= vec4f(0.0));
}

fn silu(x: vec4f) -> vec4f {
  return x * sigmoid_from(x, exp(-abs(x)));
}

// d silu / dx = sigmoid(x) + x · sigmoid(x) · sigmoid(−x), where sigmoid(x) · sigmoid(−x)
// = e / (1 + e)² for either sign of x.
fn silu_derivative(x: vec4f) -> vec4f {
  let e = exp(-abs(x));
  let s = sigmoid_from(x, e);
  return s + x * (e / ((1.0 + e) * (1.0 + e)));
}

fn first_element(inv: Invocation) -> u32 {
  return ((inv.wid.x + inv.wid.y * inv.groups.x) * 64u + inv.local) * 4u;
}

// Index of the gate value of hidden element e; up is half further on.
fn gate_index(e: u32, half: u32) -> u32 {
  return e + (e / half) * half;
}

struct GateUp {
  gate: vec4f,
  up: vec4f,
}

fn load_gate_up_aligned(first: u32) -> GateUp {
  let half4 = p.half / 4u;
  let g = gate_index(first / 4u, half4);
  return GateUp(gate_up4[g], gate_up4[g + half4]);
}

// Lanes past the end repeat the last element and are never stored.
fn load_gate_up_unaligned(first: u32) -> GateUp {
  var pair: GateUp;
  for (var lane = 0u; lane < 4u; lane++) {
    let g = gate_index(min(first + lane, p.count - 1u), p.half);
    pair.gate[lane] = gate_up1[g];
    pair.up[lane] = gate_up1[g + p.half];
  }
  return pair;
}

@compute @workgroup_size(64)
fn swiglu_forward_aligned(inv: Invocation) {
  let first = first_element(inv);
  if (first >= p.count) { return; }
  let pair = load_gate_up_aligned(first);
  hidden4[first / 4u] = silu(pair.gate) * pair.up;
}

@compute @workgroup_size(64)
fn swiglu_forward_unaligned(inv: Invocation) {
  let first = first_element(inv);
  if (first >= p.count) { return; }
  let pair = load_gate_up_unaligned(first);
  let hidden = silu(pair.gate) * pair.up;
  for (var lane = 0u; lane < 4u; lane++) {
    if (first + lane < p.count) { hidden1[first + lane] = hidden[lane]; }
  }
}

// dUp = dHidden ⊙ silu(gate), dGate = dHidden ⊙ up ⊙ silu'(gate).
@compute @workgroup_size(64)
fn swiglu_backward_aligned(inv: Invocation) {
  let first = first_element(inv);
  if (first >= p.count) { return; }
  let pair = load_gate_up_aligned(first);
  let d_hidden = d_hidden4[first / 4u];
  let half4 = p.half / 4u;
  let g = gate_index(first / 4u, half4);
  d_gate_up4[g] = d_hidden * pair.up * silu_derivative(pair.gate);
  d_gate_up4[g + half4] = d_hidden * silu(pair.gate);
}

@compute @workgroup_size(64)
fn swiglu_backward_unaligned(inv: Invocation) {
  let first = first_element(inv);
  if (first >= p.count) { return; }
  let pair = load_gate_up_unaligned(first);
  var d_hidden: vec4f;
  for (var lane = 0u; lane < 4u; lane++) {
    d_hidden[lane] = d_hidden1[min(first + lane, p.count - 1u)];
  }
  let d_gate = d_hidden * pair.up * silu_derivative(pair.gate);
  let d_up = d_hidden * silu(pair.gate);

  for (var lane = 0u; lane < 4u; lane++) {
    let e = first + lane;
    if (e < p.count) {
      let g = gate_index(e, p.half);
      d_gate_up1[g] = d_gate[lane];
      d_gate_up1[g + p.half] = d_up[lane];
    }
  }
}
