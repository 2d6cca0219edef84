/** Clean runs: every class of work the planted cases use, done right. Each must end OK with no finding. */
import { type CatalogueCase, F32 } from "./case.ts";

export const CLEAN_CASES: Record<string, CatalogueCase> = {
  none: {
    expect: null,
    plant: ({ ffi, d, s, x }) => ffi.launch(d, s, ffi.faultFill, { dst: x, n: x.bytes / F32, value: 3 }),
  },
  "clean-streams": {
    expect: null,
    // a write on A, an event, B waits for it and reads
    plant: ({ ffi, d, s, x }) => {
      const b = d.createStream();
      const e = d.createEvent();
      ffi.launch(d, s, ffi.faultFill, { dst: x, n: x.bytes / F32, value: 4 });
      e.record(s);
      b.waitEvent(e);
      x.download(new Float32Array(x.bytes / F32), { stream: b });
      b.synchronize();
      e.destroy();
      b.destroy();
    },
  },
  "clean-redzones": {
    expect: null,
    audit: { redzones: 256 },
    plant: ({ ffi, d, s }) => {
      const small = d.malloc(4000, { name: "small" });
      ffi.launch(d, s, ffi.faultFill, { dst: small, n: 1000, value: 3 });
      s.synchronize();
      small.free();
    },
  },
  "clean-lifetimes": {
    expect: null,
    // buffers freed once after their last use, a stream destroyed after its last op
    plant: ({ ffi, d, x }) => {
      const side = d.createStream();
      const tmp = d.malloc(4096, { name: "scratch" });
      ffi.launch(d, side, ffi.faultFill, { dst: tmp, n: 1024, value: 1 });
      ffi.launch(d, side, ffi.faultFill, { dst: x, n: 16, value: 1 });
      side.synchronize();
      tmp.free();
      side.destroy();
    },
  },
};
