// Per-slot training state on the device: restarting halted slots with a new sample, the
// halting decision after each step, a watch for non-finite losses, and the initial carry.
//
// Slot b of a training batch works on one puzzle until it halts. Its carry y, z is
// [batch, length, hidden] with length = prefix + seq, and halted[b] (u32, 0 or 1) says whether
// the slot takes the new batch's sample at the next step.
//
// Each entry point binds its own variables; binding numbers repeat across entry points.
// Dispatches fold counts above 65535 workgroups into y, so the flat workgroup index is
// wid.x + wid.y * num_workgroups.x.

struct Params {
  batch: u32,
  length: u32,     // prefix + seq
  hidden: u32,
  seq: u32,
  max_steps: u32,
  step: u32,       // advance_halting: the optimizer step being recorded, from 1
}

@group(0) @binding(0) var<uniform> p: Params;

struct Invocation {
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
  @builtin(local_invocation_index) local: u32,
}

fn flat_index(inv: Invocation) -> u32 {
  return (inv.wid.x + inv.wid.y * inv.groups.x) * 64u + inv.local;
}

// ---------------------------------------------------------------------------------------
// reset_carry: y[b, l, c] = h_init[c] and z[b, l, c] = l_init[c] in every halted slot.
// fill_carry: the same in every slot, for evaluation, which starts all slots together.
// Dispatch: ceil(batch · length · hidden / 64) workgroups.

@group(0) @binding(1) var<storage, read_write> carry_y: array<f32>;  // [batch, length, hidden]
@group(0) @binding(2) var<storage, read_write> carry_z: array<f32>;  // [batch, length, hidden]
@group(0) @binding(3) var<storage, read> h_init: array<f32>;         // [hidden]
@group(0) @binding(4) var<storage, read> l_init: array<f32>;         // [hidden]
@group(0) @binding(5) var<storage, read> carry_halted: array<u32>;   // [batch]

fn write_initial_carry(index: u32) {
  let channel = index % p.hidden;
  carry_y[index] = h_init[channel];
  carry_z[index] = l_init[channel];
}

@compute @workgroup_size(64)
fn reset_carry(inv: Invocation) {
  let index = flat_index(inv);
  if (index >= p.batch * p.length * p.hidden) { return; }
  if (carry_halted[index / (p.length * p.hidden)] != 0u) { write_initial_carry(index); }
}

@compute @workgroup_size(64)
fn fill_carry(inv: Invocation) {
  let index = flat_index(inv);
  if (index >= p.batch * p.length * p.hidden) { return; }
  write_initial_carry(index);
}

// ---------------------------------------------------------------------------------------
// reset_data: every halted slot takes the new batch's sample at its index (tokens, labels,
// puzzle id) and restarts its step count at 0. The new batch is one i32 buffer: tokens
// [batch, seq], then labels [batch, seq], then puzzle ids [batch].
// Dispatch: ceil(batch · seq / 64) workgroups.

@group(0) @binding(1) var<storage, read_write> tokens: array<i32>;      // [batch, seq]
@group(0) @binding(2) var<storage, read_write> labels: array<i32>;      // [batch, seq]
@group(0) @binding(3) var<storage, read_write> puzzle_ids: array<i32>;  // [batch]
@group(0) @binding(4) var<storage, read_write> slot_steps: array<u32>;  // [batch]
@group(0) @binding(5) var<storage, read> incoming: array<i32>;          // [2 · batch · seq + batch]
@group(0) @binding(6) var<storage, read> data_halted: array<u32>;       // [batch]

@compute @workgroup_size(64)
fn reset_data(inv: Invocation) {
  let index = flat_index(inv);
  let tokens_per_batch = p.batch * p.seq;
  if (index >= tokens_per_batch) { return; }

  if (data_halted[index / p.seq] != 0u) {
    tokens[index] = incoming[index];
    labels[index] = incoming[tokens_per_batch + index];
  }
  if (index < p.batch && data_halted[index] != 0u) {
    puzzle_ids[index] = incoming[2u * tokens_per_batch + index];
    slot_steps[index] = 0u;
  }
}

// ---------------------------------------------------------------------------------------
// advance_halting, after the step's forward pass: steps += 1, then a slot halts when
// steps ≥ max_steps, or (with max_steps > 1) when q_halt > 0, in both cases only once
// steps ≥ min_steps, its exploration minimum (0 without exploration). It also records in
// first_bad_step the smallest step at which a slot's token or halting loss was NaN or ±∞.
// Dispatch: ceil(batch / 64) workgroups.

@group(0) @binding(1) var<storage, read_write> steps: array<u32>;         // [batch]
@group(0) @binding(2) var<storage, read_write> halted: array<u32>;        // [batch]
@group(0) @binding(3) var<storage, read> q_halt: array<f32>;              // [batch]
@group(0) @binding(4) var<storage, read> min_steps: array<u32>;           // [batch]
@group(0) @binding(5) var<storage, read> seq_loss: array<f32>;            // [batch]
@group(0) @binding(6) var<storage, read> q_halt_loss: array<f32>;         // [batch]
@group(0) @binding(7) var<storage, read_write> first_bad_step: atomic<u32>;

// By the bits, because WGSL lets an implementation assume that no NaN or infinity occurs.
fn is_finite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(64)
fn advance_halting(inv: Invocation) {
  let b = flat_index(inv);
  if (b >= p.batch) { return; }

  let count = steps[b] + 1u;
  steps[b] = count;
  var halt = count >= p.max_steps;
  if (p.max_steps > 1u) {
    halt = (halt || q_halt[b] > 0.0) && count >= min_steps[b];
  }
  halted[b] = select(0u, 1u, halt);

  if (!is_finite(seq_loss[b]) || !is_finite(q_halt_loss[b])) {
    atomicMin(&first_bad_step, p.step);
  }
}
