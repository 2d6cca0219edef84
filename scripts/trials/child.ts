/**
 * The child role of an experiment: one trial in its own process. Loads the
 * native library, instruments the trial for its mode, runs `run(ctx)` once
 * and returns the TrialResult the parent reads from the last stdout line.
 */
import type { Device } from "../../mod.ts";
import type { FaultInfo, Finding, TrialResult, TrialSpec } from "../../records.ts";
import type { Experiment, FaultlineApi, TrialContext } from "./definition.ts";
import { usageFinding } from "../forensics/usage.ts";

function errorResult(e: unknown): Pick<TrialResult, "status" | "error"> {
  const err = e as { name?: string; message?: string; code?: number; codeName?: string; findings?: unknown };
  // a usage error is a call the runtime refused before it reached the device: blocked, like a rail's block
  if (
    err?.name === "GuardBlocked" || err?.name === "ModelIncompatible" || err?.name === "FaultlineUsageError"
  ) {
    return { status: "BLOCKED", error: { name: err.name, message: String(err.message) } };
  }
  if (err?.name === "FaultlineError" && typeof err.code === "number") {
    return { status: "FAULT", error: { code: err.code, name: err.codeName, message: String(err.message) } };
  }
  return { status: "ERROR", error: { name: err?.name ?? "Error", message: String(err?.message ?? e) } };
}

/** The findings of the call that ended the trial: a rail's block, or the refused call of a usage error. */
function blockedFindingsOf(e: unknown, ffi: FaultlineApi): Finding[] {
  // the refused call never reached the boundary: it gets the id it would have had
  if (e instanceof ffi.FaultlineUsageError) {
    return [usageFinding(e.message, e.context, ffi.boundary.nextId())];
  }
  const f = (e as { findings?: Finding[] }).findings;
  return Array.isArray(f) ? f : [];
}

/** The child role: one trial, its result on the last stdout line. */
export async function runChild(exp: Experiment, spec: TrialSpec): Promise<TrialResult> {
  const ffi: FaultlineApi = await import("../../mod.ts");
  const { instrument } = await import("./instrument.ts");
  const values: Record<string, unknown> = {};
  const config: Record<string, unknown> = {};
  let result: TrialResult = { status: "OK" };
  let device: Device | null = null;
  let inst: ReturnType<typeof instrument> | null = null;
  let blockedFindings: Finding[] = [];
  try {
    const rt = ffi.runtime();
    device = rt.device(0);
    result.backend = rt.backend;
    result.build = rt.build;
    result.deviceId = device.id;
    try {
      result.busId = device.busId;
    } catch {
      // no bus id: the placement cannot be checked
    }
    try {
      result.device = device.props.name;
    } catch {
      result.device = "";
    }
    inst = instrument(device, spec, typeof exp.audit === "function" ? exp.audit(spec) : exp.audit);
    const params = { ...(exp.params ?? {}), ...(spec.params ?? {}) };
    const ctx: TrialContext = {
      spec,
      mode: spec.mode,
      iteration: spec.iteration,
      params,
      stress: params.stress === true,
      runtime: rt,
      device,
      devices: rt.devices(),
      backend: rt.backend,
      ffi,
      values,
      config,
      audit: inst.session,
      at(where) {
        ffi.boundary.context = { ...where };
      },
      log(...args) {
        console.error(...args);
      },
    };
    const ret = await exp.run(ctx);
    if (ret && typeof ret === "object") Object.assign(values, ret);
    ffi.boundary.context = {};
    device.synchronize(); // the end of a trial is a sync point: a latent fault surfaces here
  } catch (e) {
    result = { ...result, ...errorResult(e) };
    blockedFindings = blockedFindingsOf(e, ffi);
  }
  try {
    result.fault = device ? device.faultInfo() as FaultInfo | null : null;
  } catch {
    result.fault = null;
  }
  if (result.status === "OK" && result.fault) result.status = "FAULT";
  try {
    inst?.close();
  } catch (e) {
    console.error(`faultline: closing the journal failed: ${e}`);
  }
  const findings = inst ? inst.findings() : [];
  for (const f of blockedFindings) {
    if (!findings.some((g) => g.op === f.op && g.rail === f.rail)) findings.push(f);
  }
  result.findings = findings;
  result.values = values;
  if (Object.keys(config).length) (result as TrialResult & { config?: unknown }).config = config;
  return result;
}
