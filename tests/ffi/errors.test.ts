/** Error names and messages, native failures, out of memory, and load failures (in child processes). */
import assert from "node:assert/strict";
import {
  check,
  FaultlineError,
  FL_ABI_VERSION,
  libraryPath,
  Status,
  statusMessage,
  statusName,
} from "../../mod.ts";
import { runChild } from "../helpers/child.ts";
import { ffiTest, testDevice, testRuntime } from "../helpers/env.ts";

Deno.test({ name: "errors: names and messages from the backend", ...ffiTest }, () => {
  testRuntime();
  const expect: [number, RegExp][] = [
    [Status.SUCCESS, /Success/],
    [Status.INVALID_VALUE, /InvalidValue/],
    [Status.OUT_OF_MEMORY, /OutOfMemory|MemoryAllocation/],
    [Status.INVALID_CONFIGURATION, /InvalidConfiguration/],
    [Status.INVALID_DEVICE, /InvalidDevice/],
    [Status.INVALID_HANDLE, /InvalidHandle|InvalidResourceHandle/],
    [Status.NOT_READY, /NotReady/],
    [Status.ILLEGAL_ADDRESS, /IllegalAddress/],
  ];
  for (const [code, re] of expect) {
    assert.match(statusName(code), re, `name of ${code}`);
    assert.ok(statusMessage(code).length > 0, `message of ${code}`);
  }
  assert.equal(statusMessage(700), "an illegal memory access was encountered");
});

Deno.test({ name: "errors: FaultlineError carries code, name, native message and call", ...ffiTest }, () => {
  testRuntime();
  const e = new FaultlineError(700, "fl_memcpy D2H");
  assert.ok(e instanceof Error);
  assert.equal(e.name, "FaultlineError");
  assert.equal(e.code, 700);
  assert.match(e.codeName, /IllegalAddress/);
  assert.equal(e.nativeMessage, "an illegal memory access was encountered");
  assert.equal(e.call, "fl_memcpy D2H");
  assert.equal(
    e.message,
    `fl_memcpy D2H failed: an illegal memory access was encountered (${e.codeName}, 700)`,
  );
  check(0, "fl_noop");
  assert.throws(() => check(2, "fl_malloc"), (x: unknown) => x instanceof FaultlineError && x.code === 2);
});

Deno.test(
  { name: "errors: a failing native call throws with its status; last error is kept", ...ffiTest },
  () => {
    const rt = testRuntime();
    const dev = testDevice();
    dev.takeLastError();
    const out = new BigUint64Array(1);
    const st = rt.symbols.fl_malloc(rt.deviceCount + 5, 16n, out);
    assert.equal(st, Status.INVALID_DEVICE);
    assert.throws(() => check(st, "fl_malloc"), (e: unknown) => {
      assert.ok(e instanceof FaultlineError);
      assert.equal(e.code, 101);
      assert.match(e.codeName, /InvalidDevice/);
      assert.match(e.message, /^fl_malloc failed: .+ \(\w+InvalidDevice\w*, 101\)$/);
      return true;
    });
    // a non-sticky error: the device still works
    using buf = dev.malloc(16, { name: "after-error" });
    buf.fill(7);
    dev.takeLastError();
    assert.equal(dev.peekLastError(), 0);
    assert.equal(dev.faultInfo(), null, "no sticky fault");
  },
);

Deno.test(
  { name: "errors: out of memory is a FaultlineError and not sticky (child)", ...ffiTest },
  async () => {
    const sim = testRuntime().backend === "sim";
    // sim: cap its memory at 64 MiB and ask for 128 MiB; a GPU: ask for 1 PiB
    const bytes = sim ? 128 << 20 : 2 ** 50;
    const r = await runChild("load_child.ts", {
      FAULTLINE_SIM_MEMORY: String(64 << 20),
      FAULTLINE_QUIET: "1",
    }, [
      "oom",
      String(bytes),
    ]);
    assert.ok(r.json, r.stdout + r.stderr);
    assert.equal(r.json.loaded, true, String(r.json.message));
    assert.equal(r.json.oom, true);
    assert.equal(r.json.name, "FaultlineError");
    assert.equal(r.json.code, 2);
    assert.match(String(r.json.codeName), /OutOfMemory|MemoryAllocation/);
    assert.match(String(r.json.message), /^fl_malloc failed: /);
    assert.equal(r.json.smallAfter, true);
  },
);

Deno.test(
  { name: "load: FAULTLINE_LIB pointing nowhere names the path and the build command", ...ffiTest },
  async () => {
    const path = "/nonexistent/faultline/libfaultline.so";
    const r = await runChild("load_child.ts", { FAULTLINE_LIB: path });
    assert.ok(r.json, r.stdout + r.stderr);
    assert.equal(r.json.loaded, false);
    assert.equal(r.json.name, "FaultlineLoadError");
    assert.ok(String(r.json.message).includes(path), String(r.json.message));
    assert.ok(String(r.json.message).includes("deno task build"), String(r.json.message));
  },
);

Deno.test({ name: "load: FAULTLINE_BACKEND must name a backend", ...ffiTest }, async () => {
  const r = await runChild("load_child.ts", { FAULTLINE_BACKEND: "opencl", FAULTLINE_LIB: undefined });
  assert.equal(r.json?.loaded, false);
  assert.match(String(r.json?.message), /FAULTLINE_BACKEND=opencl is not one of cuda, hip, sim/);
});

Deno.test({ name: "load: a backend that is not built names its path", ...ffiTest }, async () => {
  const missing = (["cuda", "hip", "sim"] as const).find((b) => {
    try {
      Deno.statSync(libraryPath(b));
      return false;
    } catch {
      return true;
    }
  });
  if (!missing) return; // every backend is built here
  const r = await runChild("load_child.ts", { FAULTLINE_BACKEND: missing, FAULTLINE_LIB: undefined });
  assert.equal(r.json?.loaded, false);
  assert.ok(String(r.json?.message).includes(libraryPath(missing)), String(r.json?.message));
  assert.ok(String(r.json?.message).includes("deno task build"));
});

function hasCc(): boolean {
  try {
    return new Deno.Command("cc", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

async function fakeLibrary(source: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "faultline-fake-" });
  await Deno.writeTextFile(`${dir}/fake.c`, source);
  const out = await new Deno.Command("cc", {
    args: ["-shared", "-fPIC", "-o", `${dir}/libfaultline.so`, `${dir}/fake.c`],
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return `${dir}/libfaultline.so`;
}

Deno.test(
  { name: "load: a wrong ABI version names both versions", ignore: !hasCc(), ...ffiTest },
  async () => {
    const lib = await fakeLibrary(
      `#include <stdint.h>\nint32_t fl_abi_version(int32_t *out) { *out = 999; return 0; }\n`,
    );
    const r = await runChild("load_child.ts", { FAULTLINE_LIB: lib });
    assert.equal(r.json?.loaded, false);
    const msg = String(r.json?.message);
    assert.match(msg, /ABI version 999/);
    assert.ok(msg.includes(`ABI version ${FL_ABI_VERSION}`), msg);
    assert.ok(msg.includes(lib));
    await Deno.remove(lib.replace(/\/libfaultline\.so$/, ""), { recursive: true });
  },
);

Deno.test({ name: "load: a missing symbol is named", ignore: !hasCc(), ...ffiTest }, async () => {
  const lib = await fakeLibrary(
    `#include <stdint.h>\nint32_t fl_abi_version(int32_t *out) { *out = ${FL_ABI_VERSION}; return 0; }\n` +
      `int32_t fl_noop(void) { return 0; }\n`,
  );
  const r = await runChild("load_child.ts", { FAULTLINE_LIB: lib });
  assert.equal(r.json?.loaded, false);
  const msg = String(r.json?.message);
  assert.match(msg, /missing symbols .*fl_memcpy/);
  assert.ok(!/missing symbols[^;]*fl_noop/.test(msg), msg);
  await Deno.remove(lib.replace(/\/libfaultline\.so$/, ""), { recursive: true });
});

Deno.test(
  { name: "load: with nothing built, the error lists every path it looked for", ...ffiTest },
  async () => {
    // a copy of mod.ts, records.ts and ffi/ in an empty directory: no build/ next to it
    const root = await Deno.makeTempDir({ prefix: "faultline-nobuild-" });
    const repo = new URL("../../", import.meta.url);
    await Deno.mkdir(`${root}/ffi`);
    for (const f of ["mod.ts", "records.ts"]) await Deno.copyFile(new URL(f, repo), `${root}/${f}`);
    for await (const e of Deno.readDir(new URL("ffi/", repo))) {
      if (e.isFile && e.name.endsWith(".ts")) {
        await Deno.copyFile(
          new URL(`ffi/${e.name}`, repo),
          `${root}/ffi/${e.name}`,
        );
      }
    }
    await Deno.writeTextFile(
      `${root}/probe.ts`,
      `import { runtime } from "./mod.ts";\ntry { runtime(); console.log("{}"); } catch (e) { console.log(JSON.stringify({ message: e.message })); }\n`,
    );
    const env = { ...Deno.env.toObject() };
    delete env.FAULTLINE_LIB;
    delete env.FAULTLINE_BACKEND;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", "--no-lock", `${root}/probe.ts`],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    await Deno.remove(root, { recursive: true });
    const msg = String(JSON.parse(text.split("\n").pop() ?? "{}").message);
    for (const b of ["cuda", "hip", "sim"]) {
      assert.ok(msg.includes(`${root}/build/${b}/libfaultline.so`), `${b} path missing from: ${msg}`);
    }
    assert.ok(msg.includes("deno task build"), msg);
  },
);
