import assert from "node:assert/strict";
import { DEBUG_ENVS, envLine, presetFor, resolveDebugEnv } from "../../../scripts/forensics/debugenv.ts";
import { describeSanitizer, foldSanitizer, parseSanitizer } from "../../../scripts/forensics/sanitizer.ts";
import type { OpRecord, RootCause } from "../../../records.ts";

const MEMCHECK = `========= COMPUTE-SANITIZER
========= Invalid __global__ write of size 4 bytes
=========     at fault_write_at_kernel(float *, float)+0x70 in /work/main/kernels/faults.hip:15
=========     by thread (0,0,0) in block (0,0,0)
=========     Address 0x7f5e39801000 is out of bounds
=========     and is 0 bytes after the nearest allocation at 0x7f5e39800000 of size 4,096 bytes
=========     Saved host backtrace up to driver entry point at kernel launch time
=========     Host Frame: [0x2dfbef]
=========                in /lib/x86_64-linux-gnu/libcuda.so.1
=========
========= Program hit cudaErrorLaunchFailure (error 719) due to "unspecified launch failure" on CUDA API call to cudaMemcpy.
=========     Saved host backtrace up to driver entry point at error
=========
========= ERROR SUMMARY: 2 errors
`;

Deno.test("sanitizer: the first memcheck error: access, kernel, thread, address, nearest allocation", () => {
  const e = parseSanitizer(MEMCHECK)!;
  assert.equal(e.access, "write");
  assert.equal(e.size, 4);
  assert.equal(e.kernel, "fault_write_at_kernel");
  assert.equal(e.thread, "(0,0,0)");
  assert.equal(e.block, "(0,0,0)");
  assert.equal(e.address, 0x7f5e39801000);
  assert.equal(e.problem, "out of bounds");
  assert.deepEqual(e.nearest, { distance: 0, side: "after", address: 0x7f5e39800000, size: 4096 });
  assert.equal(e.errors, 2);
  assert.equal(parseSanitizer("========= COMPUTE-SANITIZER\n========= ERROR SUMMARY: 0 errors\n"), null);
});

Deno.test("sanitizer: an API error alone is still reported", () => {
  const e = parseSanitizer(
    `========= Program hit cudaErrorIllegalAddress (error 700) due to "an illegal memory access was encountered" on CUDA API call to cudaMemcpy.\n=========     Saved host backtrace\n`,
  )!;
  assert.match(e.headline, /Program hit cudaErrorIllegalAddress/);
  assert.equal(e.address, null);
});

Deno.test("sanitizer: folded against the journal, the nearest allocation gets its name", () => {
  const records: OpRecord[] = [{
    id: 7,
    kind: "launch",
    name: "fault_fill",
    stream: 0,
    scalars: {},
    pointers: [{
      arg: "dst",
      ptr: 0x7f5e39800000,
      alloc: 3,
      name: "scratch",
      offset: 0,
      bytes: 4096,
      size: 4096,
    }],
    status: 0,
  }];
  const f = foldSanitizer(parseSanitizer(MEMCHECK)!, records);
  assert.deepEqual(f.allocation, { id: 3, name: "scratch", offset: 4096 });
  assert.match(
    describeSanitizer(f),
    /in fault_write_at_kernel, at 0x7f5e39801000 \(out of bounds\), 0 bytes after the nearest allocation scratch/,
  );
});

Deno.test("sanitizer: an address resolves against the alloc records too", () => {
  const records: OpRecord[] = [{
    id: 2,
    kind: "alloc",
    name: "logits",
    stream: 0,
    scalars: { bytes: 4096 },
    pointers: [],
    status: 0,
    extra: { result: 0x7f5e39800000 },
  }];
  assert.deepEqual(foldSanitizer(parseSanitizer(MEMCHECK)!, records).allocation, {
    id: 2,
    name: "logits",
    offset: 4096,
  });
});

Deno.test("debug environment presets: HIP's serializing variables and CUDA's, recorded as a line", () => {
  assert.deepEqual(DEBUG_ENVS.hip.vars, {
    HIP_LAUNCH_BLOCKING: "1",
    AMD_SERIALIZE_KERNEL: "3",
    AMD_SERIALIZE_COPY: "3",
    HSA_ENABLE_SDMA: "0",
    AMD_LOG_LEVEL: "3",
  });
  assert.deepEqual(DEBUG_ENVS.cuda.vars, { CUDA_LAUNCH_BLOCKING: "1" });
  assert.equal(presetFor("hip").name, "hip");
  assert.equal(presetFor("cuda").name, "cuda");
  assert.equal(presetFor("sim").name, "none");
  assert.equal(resolveDebugEnv(null), null);
  assert.equal(resolveDebugEnv({ AMD_LOG_LEVEL: "4" })?.name, "custom");
  assert.throws(() => resolveDebugEnv("nope"), /unknown debug environment preset/);
  assert.equal(envLine(DEBUG_ENVS.cuda), "CUDA_LAUNCH_BLOCKING=1");
  assert.equal(envLine(DEBUG_ENVS.none), "(none)");
});

Deno.test("sanitizer: compared with faultline's root cause by kernel and by allocation", async () => {
  const { compareSanitizer } = await import("../../../scripts/forensics/sanitizer.ts");
  const err = parseSanitizer(MEMCHECK)!;
  const rc = (kernel: string, alloc: string): RootCause => ({
    op: 9,
    kind: "launch",
    kernel,
    name: "plant",
    step: 1,
    layer: 0,
    stream: 0,
    argument: "addr",
    invariant: null,
    detail: "",
    scalars: {},
    args: [{ arg: "addr", ptr: 0x7f5e39801000, name: alloc, offset: 4096, text: "" }],
    findings: [],
  });
  const folded = { ...err, allocation: { name: "scratch", offset: 4096 } };
  assert.deepEqual(compareSanitizer(folded, rc("fault_write_at", "scratch")), {
    kernel: true,
    allocation: true,
    agrees: true,
  });
  assert.deepEqual(compareSanitizer(folded, rc("fault_write_at", "logits")), {
    kernel: true,
    allocation: false,
    agrees: false,
  });
  assert.deepEqual(compareSanitizer(err, rc("rope", "scratch")), {
    kernel: false,
    allocation: null,
    agrees: false,
  });
  assert.deepEqual(compareSanitizer(err, null), { kernel: null, allocation: null, agrees: null });
});
