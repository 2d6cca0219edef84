/**
 * `deno task demo`: a planted fault, traced back to its launch.
 *
 * A child process (this file with --child) writes through a freed buffer
 * with fault_fill, launches a harmless kernel after it, and copies a result
 * back to the host: the copy is where the error surfaces. The parent prints
 * where it surfaced and what the backend's fault info names (kernel, address,
 * tag), and follows the tag back to the launch in the call record.
 */
import { boundary, faultFill, FaultlineError, launch, type NativeCall, runtime, tick } from "../mod.ts";

interface Rec {
  id: number;
  kind: string;
  name: string;
  stream: number;
  pointers: NativeCall["pointers"];
  scalars: Record<string, number>;
  status?: number;
  result?: number;
}

interface ChildReport {
  backend: string;
  device: string;
  calls: Rec[];
  surfaced: { id: number; kind: string; name: string; error: string; code: number } | null;
  fault: ReturnType<ReturnType<ReturnType<typeof runtime>["device"]>["faultInfo"]>;
}

function child(): void {
  const rt = runtime();
  const dev = rt.device(0);
  const calls: Rec[] = [];
  boundary.attach({
    before: (c) =>
      void calls.push({
        id: c.id,
        kind: c.kind,
        name: c.name,
        stream: c.stream,
        pointers: c.pointers,
        scalars: c.scalars,
      }),
    after: (c, status, result) => {
      const r = calls.find((x) => x.id === c.id)!;
      r.status = status;
      if (result !== undefined) r.result = result;
    },
  });
  const report: ChildReport = {
    backend: rt.backend,
    device: dev.props.name,
    calls,
    surfaced: null,
    fault: null,
  };
  try {
    const n = 16 << 20; // 64 MiB of logits: a first kernel that keeps the stream busy for a while
    const logits = dev.malloc(n * 4, { name: "logits" });
    const counter = dev.malloc(4, { name: "steps" });
    counter.fill(0);
    // large enough that a GPU allocator unmaps it on free, as sim does for any size
    const scratch = dev.malloc(32 << 20, { name: "scratch" });
    scratch.free(); // the planted bug: scratch is used after this
    // all on the default stream, no sync: the fault stays hidden until the copy
    launch(dev, null, faultFill, { dst: logits, n, value: 0.5 });
    launch(dev, null, faultFill, { dst: scratch.ptr, n: 1024, value: 1 }); // writes through the freed buffer
    launch(dev, null, tick, { counter });
    const host = new Float32Array(4096);
    logits.download(host);
  } catch (e) {
    if (!(e instanceof FaultlineError)) throw e;
    const last = calls[calls.length - 1];
    report.surfaced = { id: last.id, kind: last.kind, name: last.name, error: e.message, code: e.code };
  }
  report.fault = dev.faultInfo();
  console.log(JSON.stringify(report));
}

async function parent(): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  let r: ChildReport;
  try {
    r = JSON.parse(text.split("\n").pop() ?? "");
  } catch {
    console.error(`demo: the trial printed no report (exit ${out.code}):\n${text}`);
    Deno.exit(1);
  }
  const hex = (n: number) => `0x${n.toString(16)}`;
  const op = (id: number) => r.calls.find((c) => c.id === id);
  const describeOp = (c: Rec) => `op #${c.id} ${c.kind} ${c.name}`;

  console.log(`faultline demo — backend ${r.backend}, device 0: ${r.device}`);
  console.log(`planted: fault_fill writes 1024 floats through "scratch" after it was freed`);
  console.log();
  if (!r.surfaced) {
    console.log("no fault surfaced (the planted write went unnoticed on this backend)");
    return;
  }
  const where =
    { d2h: "a device-to-host copy", sync: "a synchronize", launch: "a later launch" }[r.surfaced.kind] ??
      r.surfaced.kind;
  console.log(`surfaced at: ${describeOp(op(r.surfaced.id)!)} (${where})`);
  console.log(`  ${r.surfaced.error}`);
  if (!r.fault) {
    console.log("the backend has no fault info");
    return;
  }
  const f = r.fault;
  console.log(
    `fault info: status ${f.status}, kernel ${f.op}, ${f.access} at ${
      f.address ? hex(f.address) : "(address unknown)"
    }, stream ${f.stream}, tag ${f.tag}`,
  );
  const culprit = f.tag ? op(f.tag) : undefined;
  if (culprit) {
    const args = [
      ...culprit.pointers.map((p) => `${p.arg}=${hex(p.ptr)} (${p.bytes} bytes, ${p.access})`),
      ...Object.entries(culprit.scalars).map(([k, v]) => `${k}=${v}`),
    ].join(", ");
    console.log(`tag ${f.tag} -> ${describeOp(culprit)}(${args})`);
  }
  if (f.address) {
    // which allocation, live or freed, held the faulting address?
    for (const a of r.calls.filter((c) => c.kind === "alloc" && c.result !== undefined)) {
      const base = a.result!;
      const bytes = a.scalars.allocBytes ?? a.scalars.bytes;
      if (f.address >= base && f.address < base + bytes) {
        const freed = r.calls.find((c) => c.kind === "free" && c.scalars.ptr === base);
        console.log(
          `address ${hex(f.address)} is "${a.name}" + ${f.address - base}` +
            (freed ? `, freed at ${describeOp(freed)} before the launch` : ""),
        );
      }
    }
  }
  console.log();
  console.log(
    `the error surfaced ${
      r.surfaced.id - (culprit?.id ?? r.surfaced.id)
    } ops after the launch that caused it.`,
  );
}

if (Deno.args.includes("--child")) child();
else await parent();
