/**
 * Peer gather: each trial uses two devices (`devices: 2`); a shard made on the second is gathered into the
 * first with a peer copy (journaled as p2p, both ends checked) and compared with what was uploaded. With
 * `--param wrong=true` a launch on the first device is also given a pointer into the second's memory: the
 * device rail names it (the argument, the allocation, both devices), and where the GPU faults on it the
 * attribution names that launch.
 *
 *   deno run -A scripts/experiments/peer_gather.ts --matrix --scale 0.1
 *   FAULTLINE_SIM_DEVICES=4 deno run -A scripts/experiments/peer_gather.ts --param wrong=true
 */
import { stockHypotheses } from "../forensics/stock.ts";
import { defineExperiment, main } from "../trials/experiment.ts";

/** Distinct non-zero floats that differ per trial (a copy that did nothing cannot pass). */
function shardData(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((i * 2654435761 + seed * 40503) % 65521) / 65521 + 0.5;
  return out;
}

export const experiment = defineExperiment({
  name: "peer_gather",
  title: "A shard gathered from a second device with a peer copy; a launch given the peer's memory",
  devices: 2,
  params: { wrong: false, n: 2048 },
  matrix: [{ name: "audit", mode: "audit", iterations: 8 }],
  hypotheses: stockHypotheses(),
  run(ctx) {
    const [home, peer] = ctx.devices;
    const data = shardData(Number(ctx.params.n ?? 2048), ctx.iteration + 1);
    using shard = peer.malloc(data.byteLength, { name: "shard" });
    using gathered = home.malloc(data.byteLength, { name: "gathered" });
    shard.upload(data);
    ctx.at({ op: "gather" });
    gathered.copyFromPeer(shard);
    if (ctx.params.wrong === true) {
      ctx.at({ op: "scale" });
      ctx.ffi.launch(home, null, ctx.ffi.faultFill, { dst: shard.ptr, n: 16, value: 2 });
    }
    const got = new Float32Array(data.length);
    gathered.download(got);
    if (!got.every((v, i) => v === data[i])) throw new Error("the gathered shard differs from the source");
    return { ids: ctx.devices.map((d) => d.id), busIds: ctx.devices.map((d) => d.busId) };
  },
});

if (import.meta.main) await main(experiment);
