/**
 * One launch a GPU cannot run (argv[0] names it), in its own process: a
 * sticky fault poisons the process. Prints one JSON line: the launch status,
 * the status at the next sync, fault info, and whether host memory changed.
 */
import {
  attentionDecodeScratchFloats,
  faultFill,
  FaultlineError,
  launch,
  llamaKernels,
  runtime,
} from "../../mod.ts";

const rt = runtime();
const dev = rt.device(0);
const which = Deno.args[0];
const host = new Float32Array(64).fill(7);
let launchStatus = 0, syncStatus = 0;
const hostAddr = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(host)));
try {
  if (which === "host-pointer") {
    launch(dev, null, faultFill, { dst: hostAddr, n: 64, value: 1.5 });
  } else if (which === "other-device") {
    const other = rt.device(1).malloc(4096, { name: "on_device_1" });
    launch(dev, null, faultFill, { dst: other.ptr, n: 16, value: 1.5 });
  } else if (which === "misaligned") {
    const buf = dev.malloc(4096, { name: "buf" });
    launch(dev, null, faultFill, { dst: buf.ptr + 2, n: 16, value: 1.5 });
  } else if (which === "pinned") {
    const pinned = dev.hostAlloc(4096, { name: "pinned" });
    launch(dev, null, faultFill, { dst: pinned.ptr, n: 16, value: 1.5 });
  } else if (which === "scratch") {
    const [H, D, ctx] = [4, 64, 1024];
    const q = dev.malloc(H * D * 4, { name: "q" }), out = dev.malloc(H * D * 4, { name: "out" });
    const k = dev.malloc(ctx * H * D * 4, { name: "k" }), v = dev.malloc(ctx * H * D * 4, { name: "v" });
    const need = attentionDecodeScratchFloats(H, D, ctx) * 4;
    const scratch = dev.malloc(need / 4, { name: "scratch" }); // a quarter of what the kernel writes
    launch(dev, null, llamaKernels.attentionDecode, {
      out,
      q,
      k_cache: k,
      v_cache: v,
      scratch,
      n_head: H,
      n_head_kv: H,
      head_dim: D,
      n_ctx: ctx,
    });
  } else throw new Error(`unknown case ${which}`);
} catch (e) {
  launchStatus = e instanceof FaultlineError ? e.code : -1;
}
try {
  dev.synchronize();
} catch (e) {
  syncStatus = e instanceof FaultlineError ? e.code : -1;
}
const f = dev.faultInfo();
console.log(JSON.stringify({
  launchStatus,
  syncStatus,
  fault: f ? { status: f.status, address: f.address, op: f.op } : null,
  hostAddr,
  hostUnchanged: host.every((x) => x === 7),
}));
