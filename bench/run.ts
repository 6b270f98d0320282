// Kernel benchmark: `npm run bench [-- --quick] [--json FILE] [--batch B]`.
// Prints the adapter, the measured FMA peak and copy bandwidth, and GFLOP/s per matmul
// shape and variant with the fraction of the peak.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createGpu, describeAdapter } from '../src/gpu/device.js';
import { benchMatmul, trmMatmulShapes } from './matmul.js';
import { measureCopyBandwidth, measureFmaPeak } from './probes.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      batch: { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const batch = Number(values.batch ?? (quick ? 1 : 8));
  const timing = quick ? { iterations: 2, repeats: 1 } : { iterations: 5, repeats: 5 };

  const gpu = await createGpu();
  console.log(describeAdapter(gpu.adapter));

  const peak = await measureFmaPeak(gpu, quick ? 64 : 1024, timing);
  const bandwidth = await measureCopyBandwidth(gpu, (quick ? 4 : 64) * 1024 * 1024, timing);
  console.log(`f32 FMA peak: ${peak.toFixed(1)} GFLOP/s; copy bandwidth: ${bandwidth.toFixed(1)} GB/s`);

  const results = await benchMatmul(gpu, trmMatmulShapes(batch), timing);
  console.log(`\nmatmul at batch ${batch} (97 tokens per puzzle)`);
  console.log(`${'shape'.padEnd(28)}${'variant'.padEnd(11)}${'M×N×K (batch)'.padEnd(22)}${'ms'.padStart(9)}${'GFLOP/s'.padStart(10)}${'of peak'.padStart(9)}`);
  for (const r of results) {
    const dims = `${r.M}×${r.N}×${r.K}${r.batch > 1 ? ` (${r.batch})` : ''}`;
    console.log(`${r.shape.padEnd(28)}${r.variant.padEnd(11)}${dims.padEnd(22)}${(r.seconds * 1e3).toFixed(2).padStart(9)}${r.gflops.toFixed(2).padStart(10)}${`${((100 * r.gflops) / peak).toFixed(0)}%`.padStart(9)}`);
  }

  if (values.json) {
    writeFileSync(values.json, JSON.stringify({ adapter: gpu.adapter, batch, peakGflops: peak, copyGBps: bandwidth, matmul: results }, null, 2));
  }
  gpu.destroy();
}

main().catch((error: Error) => {
  console.error(`bench: ${error.message}`);
  process.exit(1);
});
