/** Planted stream-ordering faults: a second stream reading or writing without waiting for the first. */
import { type CatalogueCase, F32 } from "./case.ts";
import type { Expectation } from "./case.ts";

const race = (
  kind: string,
  name: string,
  argument: string,
  more: Partial<Expectation> = {},
): Expectation => ({
  op: "plant",
  kind,
  name,
  argument,
  rail: "races",
  invariant: "accesses from two streams are ordered by an event wait or a sync",
  hypothesis: "missing-stream-sync",
  surfaces: "none",
  ...more,
});

export const STREAM_CASES: Record<string, CatalogueCase> = {
  "missing-event": {
    expect: race("d2h", "x", "src"),
    // stream A writes x (a long fill); stream B reads x without waiting for an event from A
    plant: ({ ffi, d, s, x }) => {
      const b = d.createStream();
      ffi.launch(d, s, ffi.faultFill, { dst: x, n: x.bytes / F32, value: 4 });
      x.download(new Float32Array(x.bytes / F32), { stream: b });
      b.synchronize();
    },
  },
  "launch-reads-unsynced-upload": {
    expect: race("launch", "fault_fill", "dst", { step: 6 }),
    // stream B uploads x asynchronously; a kernel on stream A writes x without waiting for it
    plant: ({ ffi, d, s, x }) => {
      const b = d.createStream();
      const pinned = d.hostAlloc(x.bytes, { name: "x_host" });
      x.upload(pinned, { stream: b });
      ffi.launch(d, s, ffi.faultFill, { dst: x, n: x.bytes / F32, value: 5 });
      s.synchronize();
      b.synchronize();
    },
  },
  "wait-on-stale-event": {
    expect: race("d2h", "x", "src"),
    // the event is recorded before the write it should guard; B waits for it and reads x too early
    plant: ({ ffi, d, s, x }) => {
      const b = d.createStream();
      const e = d.createEvent();
      e.record(s);
      ffi.launch(d, s, ffi.faultFill, { dst: x, n: x.bytes / F32, value: 6 });
      b.waitEvent(e);
      x.download(new Float32Array(x.bytes / F32), { stream: b });
      b.synchronize();
    },
  },
};
