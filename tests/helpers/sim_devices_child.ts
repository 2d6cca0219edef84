/**
 * The sim's devices seen by one process (argv[0] names the case), through the raw exports: which
 * simulated devices FAULTLINE_SIM_VISIBLE_DEVICES shows and their bus ids ("visible"), and peer
 * copies between two devices' ranges ("peer"). Prints one JSON line.
 */
import { runtime } from "../../mod.ts";
import { equalBytes, randomBytes } from "./random.ts";

const rt = runtime();
const s = rt.symbols;

function busIds(): string[] {
  return rt.devices().map((d) => d.busId);
}

/** fl_malloc on device `dev`, the address. */
function malloc(dev: number, bytes: number): bigint {
  const out = new BigUint64Array(1);
  if (s.fl_malloc(dev, BigInt(bytes), out) !== 0) throw new Error(`fl_malloc on ${dev} failed`);
  return out[0];
}

const host = (a: Uint8Array) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a as BufferSource)));

function peer() {
  const n = 1 << 16;
  const data = randomBytes(n);
  const a = malloc(1, n), b = malloc(0, n), c = malloc(0, n);
  const status: Record<string, number> = {};
  status.upload = s.fl_memcpy(1, a, host(data), BigInt(n), 1);
  status.sync = s.fl_memcpy_peer(0, b, 1, a, BigInt(n));
  const stream = new BigUint64Array(1);
  s.fl_stream_create(0, stream);
  // async, at offsets: the second half of a into the first half of c
  status.async = s.fl_memcpy_peer_async(0, c, 1, a + BigInt(n / 2), BigInt(n / 2), stream[0]);
  status.streamSync = s.fl_stream_synchronize(0, stream[0]);
  const gotB = new Uint8Array(n), gotC = new Uint8Array(n / 2);
  s.fl_memcpy(0, host(gotB), b, BigInt(n), 2);
  s.fl_memcpy(0, host(gotC), c, BigInt(n / 2), 2);
  // a source that is not device 1's memory, a range past its allocation's end, a stream of another device
  status.srcOnWrongDevice = s.fl_memcpy_peer(0, c, 1, b, 64n);
  status.pastTheEnd = s.fl_memcpy_peer(0, b, 1, a + BigInt(n - 64), 128n);
  status.badStream = s.fl_memcpy_peer_async(1, a, 0, b, 64n, stream[0]);
  status.badDevice = s.fl_memcpy_peer(0, b, 7, a, 64n);
  status.device0 = s.fl_device_synchronize(0);
  status.device1 = s.fl_device_synchronize(1);
  return {
    status,
    syncCopied: equalBytes(gotB, data),
    asyncCopied: equalBytes(gotC, data.subarray(n / 2)),
  };
}

const which = Deno.args[0];
console.log(JSON.stringify(which === "visible" ? { count: rt.deviceCount, busIds: busIds() } : peer()));
