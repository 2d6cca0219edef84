/**
 * The sticky-fault scenario, run in its own process: write through an
 * unmapped device address, then record what every later call does. Prints one
 * JSON line for tests/hip/sticky_fault.test.ts.
 *
 * Unmapped address: on sim, the address of a freed buffer (sim does not reuse
 * freed ranges for a long time); on a GPU, an address 1 TiB past a live
 * allocation.
 */
import { boundary, FaultlineError, faultWriteAt, launch, type NativeCall, runtime, tick } from "../../mod.ts";

// With an observer attached, every call is tagged with its id (fl_set_tag),
// so fault info can name the launch that faulted.
const calls: { id: number; kind: string; name: string; status?: number }[] = [];
boundary.attach({
  before: (c: NativeCall) => void calls.push({ id: c.id, kind: c.kind, name: c.name }),
  after: (c: NativeCall, status: number) => {
    const rec = calls.find((r) => r.id === c.id);
    if (rec) rec.status = status;
  },
});

const rt = runtime();
const dev = rt.device(0);
const buf = dev.malloc(1 << 16, { name: "live" });
const src = new Uint8Array(1 << 16).map((_, i) => (i * 7 + 1) & 0xff);
buf.upload(src);

let addr: number;
if (rt.backend === "sim") {
  const victim = dev.malloc(1 << 16, { name: "victim" });
  addr = victim.ptr + 128;
  victim.free();
} else {
  addr = buf.ptr + 2 ** 40;
}

interface Outcome {
  ok: boolean;
  code?: number;
  codeName?: string;
  nativeMessage?: string;
  message?: string;
}
function attempt(fn: () => unknown): Outcome {
  try {
    fn();
    return { ok: true };
  } catch (e) {
    if (e instanceof FaultlineError) {
      return {
        ok: false,
        code: e.code,
        codeName: e.codeName,
        nativeMessage: e.nativeMessage,
        message: e.message,
      };
    }
    return { ok: false, message: String(e) };
  }
}

// released by `using` after the fault (see below)
const keep = dev.malloc(4096, { name: "keep" });
const keepStream = dev.createStream();
const keepEvent = dev.createEvent();

const faultBefore = dev.faultInfo();
const launched = attempt(() => launch(dev, null, faultWriteAt, { addr, value: 42.5 }));
const dst = new Uint8Array(1 << 16);
const d2h = attempt(() => buf.download(dst));
// fault info as the error surfaces (a later launch may change what a GPU backend calls "the last kernel")
const infoAtSurface = dev.faultInfo();
const counter = buf.at(0);
const later = {
  malloc: attempt(() => dev.malloc(4096, { name: "after" })),
  copy: attempt(() => buf.download(dst)),
  upload: attempt(() => buf.upload(src)),
  launch: attempt(() => launch(dev, null, tick, { counter })),
  synchronize: attempt(() => dev.synchronize()),
  streamSynchronize: attempt(() => dev.defaultStream.synchronize()),
};
// `using` in a poisoned context: releasing fails natively, but the error that
// reaches the caller is the copy's FaultlineError, not a SuppressedError
let scoped: { name: string; code?: number; released: boolean[] };
try {
  using _k = keep;
  using _s = keepStream;
  using _e = keepEvent;
  buf.download(dst);
  scoped = { name: "none", released: [] };
} catch (e) {
  scoped = {
    name: (e as Error).name,
    code: (e as FaultlineError).code,
    released: [keep.freed, keepStream.destroyed, keepEvent.destroyed],
  };
}
const info = dev.faultInfo();
const faultLaunch = calls.find((c) => c.kind === "launch" && c.name === "fault_write_at");
console.log(
  JSON.stringify({
    backend: rt.backend,
    addr,
    faultBefore,
    launched,
    d2h,
    later,
    scoped,
    infoAtSurface,
    info,
    faultLaunch,
    calls,
  }),
);
