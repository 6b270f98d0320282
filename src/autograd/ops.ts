// Differentiable elementwise ops on tape tensors.
import { Add } from '../kernels/elementwise.js';
import type { Tape, Tensor } from './tape.js';

/** a + b for tensors of one shape; both receive the output's gradient. */
export async function add(tape: Tape, label: string, a: Tensor, b: Tensor): Promise<Tensor> {
  if (a.size !== b.size) throw new RangeError(`add '${label}': operands have ${a.size} and ${b.size} elements, expected equal sizes`);
  const out = tape.tensor(label, a.shape, tape.needsGrad(a, b));
  const shape = { length: a.size };
  const op = await tape.arena.op(label, shape, [a.data, b.data, out.data], () => Add.create(tape.arena.gpu, label, shape, { a: a.data, b: b.data, out: out.data }));
  op.encode();

  tape.record(out, [], async (dOut) => {
    await tape.addGrad(a, tape.share(dOut));
    await tape.addGrad(b, tape.share(dOut));
  });
  return out;
}
