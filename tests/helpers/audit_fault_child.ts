/**
 * Child process for the fault tests: opens an audit session, plants a write
 * to an unmapped device address, and lets the fault surface.
 *
 * --mode audit: the fault surfaces at the D2H copy of logits (700); the
 *   child then prints what it saw and kills itself with SIGKILL (no close,
 *   no flush: only the mapped journal is left).
 * --mode blocking: the sync after every launch surfaces it at the launch.
 * Prints one JSON line: {surfaced: "launch"|"d2h", status, call, tag (fault info's op id)}.
 */
import { parseArgs } from "node:util";
import { FaultlineError } from "../../ffi/errors.ts";
import { launch } from "../../ffi/kernels.ts";
import { faultFill, faultWriteAt } from "../../ffi/kernels_base.ts";
import { boundary } from "../../ffi/boundary.ts";
import { runtime } from "../../ffi/runtime.ts";
import { openAudit } from "../../scripts/audit/session.ts";
import { testDevice } from "./audit_device.ts";

const { values } = parseArgs({ options: { dir: { type: "string" }, mode: { type: "string" } } });
const mode = values.mode === "blocking" ? "blocking" : "audit";
const device = testDevice();
const audit = openAudit({ device, reportDir: values.dir!, mode });
const logits = device.malloc(4096, { name: "logits" });
const host = new Float32Array(1024);
let surfaced = "none", status = 0, call = "";
try {
  boundary.context = { step: 0, layer: 3, op: "RoPE Q" };
  launch(device, null, faultFill, { dst: logits, n: 1024, value: 1 });
  launch(device, null, faultWriteAt, { addr: logits.ptr + (1 << 30), value: 1 });
  boundary.context = { step: 0, op: "logits D2H" };
  logits.download(host);
  surfaced = "none";
} catch (e) {
  if (!(e instanceof FaultlineError)) throw e;
  surfaced = e.call.includes("D2H") ? "d2h" : "launch";
  status = e.code;
  call = e.call;
}
const fault = device.faultInfo();
console.log(JSON.stringify({ surfaced, status, call, tag: fault?.tag ?? 0, backend: runtime().backend }));
if (mode === "audit") Deno.kill(Deno.pid, "SIGKILL");
audit.close();
