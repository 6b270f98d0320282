// Per-sequence accuracy of the output head: how many valid tokens have argmax(logits) == label,
// how many tokens are valid (label != IGNORE_LABEL), and whether all valid tokens are correct.
// `exact` is the halting head's target, so it is written as f32 ready to feed the binary
// cross-entropy. A sequence without valid tokens is exact (0 correct == 0 valid), as in the
// reference loss head.
//
// One workgroup per sequence, its invocations striding over the tokens.
// Dispatch: batch workgroups, folded into x and y.

struct Params {
  batch: u32,
  seq: u32,
  vocab: u32,
}

const WORKGROUP = 64u;
const IGNORE_LABEL = -100;

@group(0) @binding(0) var<storage, read> logits: array<f32>;         // [batch, seq, vocab]
@group(0) @binding(1) var<storage, read> labels: array<i32>;         // [batch, seq]
@group(0) @binding(2) var<storage, read_write> correct: array<u32>;  // [batch]
@group(0) @binding(3) var<storage, read_write> valid: array<u32>;    // [batch]
@group(0) @binding(4) var<storage, read_write> exact: array<f32>;    // [batch], 1.0 or 0.0
@group(0) @binding(5) var<uniform> p: Params;

var<workgroup> correct_total: atomic<u32>;
var<workgroup> valid_total: atomic<u32>;

// A u32 that orders like the logit, compared as integers because WGSL leaves comparisons with
// NaN unspecified. NaN is above everything (as torch.argmax treats it) and −0 equals +0.
fn argmax_key(l: f32) -> u32 {
  var bits = bitcast<u32>(l);
  if ((bits & 0x7fffffffu) > 0x7f800000u) { return 0xffffffffu; }
  if (bits == 0x80000000u) { bits = 0u; }
  if ((bits & 0x80000000u) != 0u) { return ~bits; }
  return bits | 0x80000000u;
}

// The first index of the maximal logit, as torch.argmax.
fn argmax(row: u32) -> u32 {
  var best = 0u;
  var best_key = argmax_key(logits[row]);
  for (var j = 1u; j < p.vocab; j++) {
    let key = argmax_key(logits[row + j]);
    if (key > best_key) {
      best = j;
      best_key = key;
    }
  }
  return best;
}

@compute @workgroup_size(WORKGROUP)
fn sequence_accuracy(
  @builtin(local_invocation_index) local: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) groups: vec3u,
) {
  let sequence = wid.x + wid.y * groups.x;
  if (sequence >= p.batch) { return; }
  let first_token = sequence * p.seq;

  var correct_count = 0u;
  var valid_count = 0u;
  for (var t = local; t < p.seq; t += WORKGROUP) {
    let token = first_token + t;
    let label = labels[token];
    if (label == IGNORE_LABEL) { continue; }
    valid_count++;
    if (label >= 0 && u32(label) == argmax(token * p.vocab)) { correct_count++; }
  }
  atomicAdd(&correct_total, correct_count);
  atomicAdd(&valid_total, valid_count);
  workgroupBarrier();

  if (local == 0u) {
    let sequence_correct = atomicLoad(&correct_total);
    let sequence_valid = atomicLoad(&valid_total);
    correct[sequence] = sequence_correct;
    valid[sequence] = sequence_valid;
    exact[sequence] = select(0.0, 1.0, sequence_correct == sequence_valid);
  }
}
