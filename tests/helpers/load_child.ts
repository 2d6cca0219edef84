/** Loads the library as the environment says and prints the outcome as one JSON line. */
import { FaultlineError, runtime } from "../../mod.ts";

try {
  const rt = runtime();
  const mode = Deno.args[0] ?? "load";
  if (mode === "oom") {
    const dev = rt.device(0);
    const bytes = Number(Deno.args[1] ?? 1 << 30);
    try {
      dev.malloc(bytes, { name: "too_big" });
      console.log(JSON.stringify({ loaded: true, oom: false }));
    } catch (e) {
      const fe = e as FaultlineError;
      // a smaller allocation still works: an out-of-memory error is not sticky
      const small = dev.malloc(4096, { name: "small" });
      small.free();
      console.log(JSON.stringify({
        loaded: true,
        oom: true,
        name: fe.name,
        code: fe.code,
        codeName: fe.codeName,
        message: fe.message,
        smallAfter: true,
      }));
    }
  } else {
    console.log(JSON.stringify({ loaded: true, backend: rt.backend, deviceCount: rt.deviceCount }));
  }
} catch (e) {
  console.log(JSON.stringify({ loaded: false, name: (e as Error).name, message: (e as Error).message }));
}
