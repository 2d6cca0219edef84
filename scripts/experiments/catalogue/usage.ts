/** Planted usage errors: the runtime refuses the call (BLOCKED), names it, its rule and the op that made it wrong. */
import type { CatalogueCase } from "./case.ts";
import type { Expectation } from "./case.ts";

const usage = (
  kind: string,
  name: string,
  argument: string,
  invariant: string,
  detail: RegExp,
): Expectation => ({
  op: "plant",
  kind,
  name,
  argument,
  rail: "usage",
  invariant,
  hypothesis: "use-after-free",
  surfaces: "none",
  status: "BLOCKED",
  detail,
});

const BUFFER_RULE = "a buffer is used only while it is allocated, and freed once";

export const USAGE_CASES: Record<string, CatalogueCase> = {
  "double-free": {
    expect: usage("free", "scratch", "scratch", BUFFER_RULE, /freed by op \d+ \(free scratch, step 1/),
    plant: ({ d }) => {
      const tmp = d.malloc(4096, { name: "scratch" });
      tmp.free();
      tmp.free();
    },
  },
  "freed-buffer-upload": {
    expect: usage("h2d", "staging", "staging", BUFFER_RULE, /freed by op \d+ \(free staging/),
    plant: ({ d }) => {
      const buf = d.malloc(1024, { name: "staging" });
      buf.free();
      buf.upload(new Float32Array(256).fill(1));
    },
  },
  "destroyed-stream-launch": {
    expect: usage(
      "launch",
      "fault_fill",
      "stream",
      "a stream is used only until it is destroyed",
      /destroyed by op \d+ \(stream_destroy of stream \d+, step 1, layer 0/,
    ),
    plant: ({ ffi, d, x }) => {
      const side = d.createStream();
      side.destroy();
      ffi.launch(d, side, ffi.faultFill, { dst: x, n: 16, value: 1 });
    },
  },
  "destroyed-event-wait": {
    expect: usage(
      "event_wait",
      "stream_wait_event",
      "event",
      "an event is used only until it is destroyed",
      /destroyed by op \d+ \(event_destroy of event \d+/,
    ),
    plant: ({ d, s }) => {
      const e = d.createEvent();
      e.record(s);
      e.destroy();
      s.waitEvent(e);
    },
  },
};
