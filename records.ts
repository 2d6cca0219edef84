/**
 * The records: the shape of everything faultline writes, reads back or hands
 * between processes (journal records, faults, findings, trials, attribution,
 * hypotheses, the run report and verdict.json). Types only, each defined
 * once; ffi/ (mechanism) and scripts/ (policy) both import them from here,
 * and this module imports nothing, so it can close no import cycle.
 */

// ---- modes ----

/** Instrumentation modes: none, journal + rails in warn mode, rails that block, a sync after every launch. */
export type Mode = "off" | "audit" | "enforce" | "blocking";

/** Every mode, in order of how much they check. */
export const MODES: readonly Mode[] = ["off", "audit", "enforce", "blocking"];

// ---- native calls ----

/** What a native call does. */
export type OpKind =
  | "alloc"
  | "free"
  | "host_alloc"
  | "host_free"
  | "h2d"
  | "d2h"
  | "d2d"
  | "p2p"
  | "h2h"
  | "memset"
  | "launch"
  | "sync"
  | "query"
  | "event_record"
  | "event_wait"
  | "stream_create"
  | "stream_destroy"
  | "event_create"
  | "event_destroy"
  | "vmm"
  | "capture";

/** How a call touches memory through a pointer argument. */
export type Access = "r" | "w" | "rw";

/** A launch's grid, block and dynamic shared memory, where the caller chose them (loaded kernels). */
export interface LaunchGeometry {
  /** Blocks in x, y and z. */
  grid: [number, number, number];
  /** Threads per block in x, y and z. */
  block: [number, number, number];
  /** Dynamic shared memory per block, in bytes. */
  sharedBytes: number;
}

// ---- allocations ----

/** What an allocation record holds; the allocation id is the op id of the alloc call. */
export interface AllocationInfo {
  /** The allocation id: the op id of its alloc call. */
  id: number;
  /** The address the caller uses (after the leading redzone, if any). */
  ptr: number;
  /** Bytes the caller asked for. */
  bytes: number;
  /** The tensor name given at allocation. */
  name: string;
  /** Alignment of `ptr`, in bytes. */
  align: number;
  /** Device ordinal. */
  device: number;
  /** Address the backend returned, and the bytes it allocated (redzones included). */
  base: number;
  /** Bytes the backend allocated (redzones included). */
  allocBytes: number;
  /** Guard bytes on each side (0 without redzones). */
  redzone: number;
  /** Pinned host memory rather than device memory. */
  host: boolean;
}

/** Whether an allocation is still live or was freed. */
export type AllocationState = "live" | "freed";

/** Where an address falls relative to an allocation. */
export type Placement = "inside" | "redzone_before" | "redzone_after" | "outside";

// ---- the library ----

/** What a library was built for (`<library>.json` beside it, written by scripts/build.ts). */
export interface BuildInfo {
  /** The backend the library was built as: sim, cuda or hip. */
  backend: string;
  /** GPU targets the code was compiled for (gfx942, sm_90); the CPU architecture for sim. */
  targets: string[];
  /** Who picked the targets: "--hip-arch", "amdgpu-arch", "rocminfo", "default (...)". */
  chosen_by: string;
  /** Target → the compiler that built its code. */
  compilers: Record<string, string>;
  /** The library's size when built: a library rebuilt or copied without its JSON does not match it. */
  library_bytes: number;
  /** When it was built (ISO 8601). */
  built: string;
}

// ---- the journal ----

/**
 * A pointer argument resolved against the allocations live (or freed) when
 * the call was made: `alloc` is the allocation id (null: in no allocation),
 * `name`, `offset`, `size`, `state` and `placement` describe it.
 */
export interface JournalPointer {
  /** The argument's name in the kernel's (or export's) declaration. */
  arg: string;
  /** The device address the call received. */
  ptr: number;
  /** Bytes the call touches from ptr on. */
  bytes: number;
  /** How the call touches the memory. */
  access: Access;
  /** Element size in bytes (the alignment the argument needs). */
  elem: number;
  /** The allocation id the address falls in, null when it falls in none. */
  alloc: number | null;
  /** The allocation's (tensor's) name. */
  name?: string;
  /** Offset of the address from the allocation's start. */
  offset?: number;
  /** The allocation's size in bytes. */
  size?: number;
  /** Whether the allocation was live or freed at the call. */
  state?: AllocationState;
  /** Where the address falls: inside, in a redzone, or outside. */
  placement?: Placement;
}

/** One line of journal.jsonl as the runtime writes it (ffi/journal.ts). */
export interface JournalRecord {
  /** Op id (the boundary's call id; fl_set_tag value). */
  id: number;
  /** Position in the ring's write order, from 1. */
  seq: number;
  /** Time of the intent, µs since the journal was opened. */
  time: number;
  /** µs from the intent to the outcome; null while in flight. */
  dur: number | null;
  /** Wall-clock time of the intent, ms since the epoch. */
  wall: number;
  /** What the call did. */
  kind: OpKind | "unknown";
  /** Device ordinal. */
  device: number;
  /** The stream handle (0: the default stream). */
  stream: number;
  /** Kernel name for a launch, tensor name for a copy or allocation, else the export's verb. */
  name: string;
  /** Scalar arguments by name. */
  scalars: Record<string, number>;
  /** Pointer arguments, each resolved against the allocations. */
  pointers: JournalPointer[];
  /** The host address of a copy's host side. */
  host?: number;
  /** The event handle of an event call. */
  event?: number;
  /** A value the call returned (an allocation's address, a query's answer). */
  result?: number;
  /** A loaded kernel's launch geometry (grid, block, dynamic shared bytes). */
  geometry?: LaunchGeometry;
  /** A traced program's launch: its position among the process's launches, from 0. */
  ordinal?: number;
  /** The workload's step (a prefill chunk or decode step) when the call was made, null outside one. */
  step: number | null;
  /** The model layer when the call was made, null outside one. */
  layer: number | null;
  /** The scheduler's name for the op ("RoPE Q"), null when it has none. */
  op: string | null;
  /**
   * The call's status; null when the call never returned (the process died
   * inside it, or it is still running); -1 when a guard rail blocked it.
   */
  status: number | null;
  /** The status's name ("hipSuccess", "hipErrorIllegalAddress", "blocked", "in flight"). */
  result_name: string;
  /** Parts of the call the fixed-size record could not hold. */
  truncated?: ("pointers" | "scalars")[];
}

/** A pointer argument of a journal record as the forensics reads it back (fields a journal may lack are optional). */
export interface PointerRecord {
  /** The argument's name. */
  arg: string;
  /** Device address the call received. */
  ptr?: number;
  /** Allocation id (the op id of its alloc), null when the address is in no allocation. */
  alloc?: number | null;
  /** Allocation (tensor) name. */
  name?: string;
  /** Offset of the address inside the allocation. */
  offset?: number;
  /** Bytes the call touches from ptr on. */
  bytes?: number;
  /** Size of the allocation. */
  size?: number;
  /** "r", "w" or "rw". */
  access?: string;
  /** "live" or "freed" at the time of the call. */
  state?: string;
}

/**
 * A journal record as the forensics reads it back (scripts/forensics/journal_read.ts):
 * the intent and the outcome merged, older or hand-written spellings normalized.
 */
export interface OpRecord {
  /** Op id. */
  id: number;
  /** Microseconds since the start of the trial (when the journal has times). */
  time?: number;
  /** Duration in microseconds, when known. */
  dur?: number;
  /** What the call did (an OpKind). */
  kind: string;
  /** Kernel name, tensor name, or the export's verb. */
  name: string;
  /** Device ordinal. */
  device?: number;
  /** The stream handle (0: the default stream). */
  stream: number;
  /** Scalar arguments by name. */
  scalars: Record<string, number>;
  /** Pointer arguments, resolved. */
  pointers: PointerRecord[];
  /** The host address of a copy's host side. */
  host?: number;
  /** The event handle of an event call. */
  event?: number;
  /** The workload's step when the call was made. */
  step?: number;
  /** The model layer when the call was made. */
  layer?: number;
  /** The scheduler's name for the op ("RoPE Q"). */
  op?: string;
  /** null while pending (the process died inside the call). */
  status: number | null;
  /** Any other fields the journal carries. */
  extra?: Record<string, unknown>;
}

// ---- faults ----

/** Native fault information (fl_fault_info_get). */
export interface FaultInfo {
  /** The sticky error (700: illegal address). */
  status: number;
  /** Device ordinal. */
  device: number;
  /** Faulting device address; 0 when the backend does not know it. */
  address: number;
  /** Stream of the faulting op. */
  stream: number;
  /** fl_set_tag value when the op was enqueued: the boundary's call id, 0 if none. */
  tag: number;
  /** Kernel name, or "memcpy"/"memset". */
  op: string;
  /** Whether the faulting access read or wrote, when the backend knows. */
  access: "read" | "write" | "unknown";
}

/** compute-sanitizer memcheck's first error, parsed (scripts/forensics/sanitizer.ts). */
export interface SanitizerError {
  /** "Invalid __global__ write of size 4 bytes", or the API error line. */
  headline: string;
  /** Whether the access read or wrote. */
  access: "read" | "write" | null;
  /** Bytes of the access. */
  size: number | null;
  /** The kernel that made the access. */
  kernel: string | null;
  /** The thread, as memcheck prints it ("(0,0,0)"). */
  thread: string | null;
  /** The block, as memcheck prints it. */
  block: string | null;
  /** The address accessed. */
  address: number | null;
  /** "out of bounds", "misaligned"... */
  problem: string | null;
  /** The allocation nearest to the address: its start, size, and how far before or after it the access lies. */
  nearest: { address: number; size: number; distance: number; side: "before" | "after" } | null;
  /** The allocation of the journal the address or the nearest allocation belongs to, when known. */
  allocation?: { id?: number; name?: string; offset?: number } | null;
  /** The error summary count, when printed. */
  errors: number | null;
  /** The raw lines of the first error. */
  raw: string[];
}

// ---- findings ----

/** A finding of a guard rail (or the race check, or a redzone check): what was wrong with which op. */
export interface Finding {
  /** The rail (or check) that found it: "extent", "use_after_free", "races", "redzone", ... */
  rail: string;
  /** Journal op id of the call. */
  op: number;
  /** The op's kind (launch, d2h, ...). */
  kind?: string;
  /** Kernel or copy (tensor) name. */
  name?: string;
  /** The workload's step of the op. */
  step?: number;
  /** The model layer of the op. */
  layer?: number;
  /** The scheduler's name for the op ("RoPE Q"). */
  label?: string;
  /** The argument at fault (pointer or scalar name). */
  argument?: string;
  /** The address of a pointer argument. */
  ptr?: number;
  /** The allocation the argument resolved to (null: none). */
  allocation?: {
    id: number;
    name: string;
    offset: number;
    /** Bytes the call touches from the pointer on. */
    bytes: number;
    /** Size of the allocation. */
    size: number;
    state: AllocationState;
  } | null;
  /** The invariant that was broken, as a short sentence ("head_dim even and > 0"). */
  invariant: string;
  /** Why: the values that break it. */
  detail: string;
  /** "error" for a rail in enforce mode (the call is blocked), "warn" otherwise. */
  severity?: "error" | "warn";
  /** "overridden" when an experiment let a blocked call through on purpose (recorded, not blocked). */
  status?: "overridden";
  /** Rail-specific details (a race's two accesses, a redzone's damaged bytes). */
  [key: string]: unknown;
}

// ---- trials ----

/** What the parent asks a child trial to run (passed as JSON with --trial). */
export interface TrialSpec {
  /** Experiment name (the folder under reports/). */
  experiment: string;
  /** The trial's instrumentation mode. */
  mode: Mode;
  /** Iteration number within its matrix row (0 outside a matrix). */
  iteration: number;
  /** Folder the child writes its journal and records to. */
  runDir: string;
  /** Why the parent runs this trial: "run", "replay", "bisect", "matrix", "sanitizer". */
  purpose?: string;
  /** The experiment's own knobs for this trial (fault case, stress level...). */
  params?: Record<string, unknown>;
  /**
   * Launch ordinals (0-based, in journal order) after which the runtime
   * synchronizes the launch's stream: the bisection over sync points. Absent:
   * the mode's own sync policy decides.
   */
  syncAfter?: number[];
  /** Name of the debug environment preset the trial runs under, recorded in the report. */
  debugEnv?: string;
  /** Check redzones after every write (a replay that pins a damaged redzone on the write that made it). */
  redzoneEachWrite?: boolean;
  /**
   * The host devices the trial is placed on (the runner's --devices): the child sees only these, the first
   * as its device (ctx.device). Absent: it sees every device and runs on device 0.
   */
  devices?: number[];
}

/** What the child prints as the last line of its stdout. */
export interface TrialResult {
  /** How the trial ended, as the child saw it. */
  status: "OK" | "FAULT" | "BLOCKED" | "ERROR";
  /** The error that ended the trial, if one did. */
  error?: { code?: number; name?: string; message: string; op?: number } | null;
  /** The backend's fault information, when a fault surfaced. */
  fault?: FaultInfo | null;
  /** Every guard-rail finding of the trial. */
  findings?: Finding[];
  /** Backend and device the trial ran on. */
  backend?: string;
  /** The device's name. */
  device?: string;
  /** The host id of the device it ran on, and that device's bus id (the placement is checked against it). */
  deviceId?: number;
  /** The bus id of that device. */
  busId?: string;
  /** What the loaded library was built for (GPU targets), null when unknown. */
  build?: BuildInfo | null;
  /** Number of journal records written. */
  ops?: number;
  /** Free-form values the experiment returns (numbers, checksums, timings). */
  values?: Record<string, unknown>;
}

/** How a trial ended, as the parent saw it. */
export type TrialStatus = "OK" | "FAULT" | "BLOCKED" | "ERROR" | "CRASH" | "HANG";

/** A finished trial: what was asked, how it ended and what it printed. */
export interface TrialOutcome {
  /** What the trial ran. */
  spec: TrialSpec;
  /** How it ended. */
  status: TrialStatus;
  /** Exit code; null when the process was killed by a signal. */
  code: number | null;
  /** Terminating signal ("SIGSEGV", "SIGKILL"...), null when it exited. */
  signal: string | null;
  /** The child's TrialResult, when its last stdout line was one. */
  result: TrialResult | null;
  /** The last lines of the child's stdout. */
  stdoutTail: string;
  /** The last lines of the child's stderr. */
  stderrTail: string;
  /** Wall time of the trial in milliseconds. */
  wallMs: number;
  /** The child's command line. */
  command: string[];
  /** The trial was killed at its time limit. */
  timedOut: boolean;
}

/** What one trial left behind, as the forensics reads it. */
export interface TrialEvidence {
  /** How the trial ended, null when only its folder is known. */
  outcome: TrialOutcome | null;
  /** Its journal. */
  records: OpRecord[];
  /** Its guard-rail findings. */
  findings: Finding[];
  /** The backend's fault information, when a fault surfaced. */
  fault: FaultInfo | null;
}

// ---- attribution ----

/** The op where a fault surfaced. */
export interface SurfacedAt {
  /** Op id. */
  op: number;
  /** What the op did. */
  kind: string;
  /** Kernel or tensor name. */
  name: string;
  /** "an illegal memory access was encountered (hipErrorIllegalAddress, 700)". */
  error: string;
  /** The op's status (the sticky error), null when the call never returned. */
  status: number | null;
  /** The stream handle. */
  stream: number;
  /** The workload's step of the op. */
  step?: number;
  /** The model layer of the op. */
  layer?: number;
  /** The scheduler's name for the op ("logits D2H"), when it has one. */
  opName?: string;
  /** The op as the report names it ("#41 logits D2H (d2h logits, step 3)"). */
  label: string;
}

/** A pointer argument of the root-cause op, as the journal resolved it, with a line that says it all. */
export interface ResolvedArg extends PointerRecord {
  /** One line: "q = rope_q+0 (4096 B of 4096 B, live, rw)". */
  text: string;
}

/** The op that caused the fault (or broke the rule). */
export interface RootCause {
  /** Op id in the original (faulting) trial's journal. */
  op: number;
  /** What the op did. */
  kind: string;
  /** Kernel (or copy) name. */
  kernel: string;
  /** The scheduler's name for the op ("RoPE Q"), else the kernel name. */
  name: string;
  /** The workload's step of the op, null outside one. */
  step: number | null;
  /** The model layer of the op, null outside one. */
  layer: number | null;
  /** The stream handle. */
  stream: number;
  /** The argument at fault, null when none is named. */
  argument: string | null;
  /** The rule it broke, as a short sentence, null when no rule names it. */
  invariant: string | null;
  /** Why: the values that break the rule, or what the replay showed. */
  detail: string;
  /** The op's scalar arguments. */
  scalars: Record<string, number>;
  /** The op's pointer arguments, resolved. */
  args: ResolvedArg[];
  /** The guard-rail findings at this op. */
  findings: Finding[];
  /** The op's id in the replay that named it, when a replay did. */
  replayOp?: number;
  /** For a refused call: the earlier op that made it wrong (the first free, the destroy). */
  cause?: CauseOp | null;
}

/** An op of the journal named as the cause of a later one's problem. */
export interface CauseOp {
  /** Op id. */
  op: number;
  /** What the op did. */
  kind: string;
  /** Kernel or tensor name. */
  name: string;
  /** The workload's step of the op. */
  step: number | null;
  /** The model layer of the op. */
  layer: number | null;
  /** The scheduler's name for the op. */
  label: string | null;
}

/** How the root cause was named: by its own launch status, a replay with a sync after every launch, a bisection over sync points, the backend's fault info, a guard finding, a refused call, a replay with a redzone check after every write, or not at all. */
export type AttributionMethod =
  | "launch-status"
  | "blocking-replay"
  | "bisect"
  | "fault-info"
  | "finding"
  | "usage-error"
  | "redzone-replay"
  | "none";

/** Where a fault surfaced, which op caused it and how that was established. */
export interface Attribution {
  /** How the root cause was named. */
  method: AttributionMethod;
  /** The op where the fault surfaced, null when none did. */
  surfaced: SurfacedAt | null;
  /** The op that caused it, null when none could be named. */
  rootCause: RootCause | null;
  /** true: the fault came back with a sync after every launch; false: it did not; null: not tried. */
  reproducedUnderBlocking: boolean | null;
  /** The fault depends on timing: it went away with a sync after every launch. */
  timingDependent: boolean;
  /** The launch after which one sync made the fault disappear (bisection result). */
  criticalSync: { op: number; label: string } | null;
  /** Child trials run to attribute (the faulting run itself not counted). */
  replays: number;
  /** Wall time from the fault to the named root cause, replays included. */
  wallMs: number;
  /** The backend's own account of the fault, and whether it names the same op. */
  witness: { fault: FaultInfo; op: number | null; agrees: boolean | null } | null;
  /** Lines of evidence, in the order they were established. */
  evidence: string[];
}

// ---- hypotheses ----

/** A hypothesis's verdict: the evidence confirms it, rules it out, cannot decide, or nothing faulted. */
export type HypothesisStatus = "CONFIRMED" | "RULED_OUT" | "INCONCLUSIVE" | "NOT_REPRODUCED";

/** What a hypothesis's predicate returns. */
export interface HypothesisVerdict {
  /** The verdict. */
  status: HypothesisStatus;
  /** What decided it, in one line. */
  evidence: string;
}

/** Everything a hypothesis may look at. */
export interface Evidence {
  /** The experiment's name. */
  experiment: string;
  /** Journal of the main trial (the faulting one when there was a fault). */
  records: OpRecord[];
  /** Guard-rail findings of the main trial. */
  findings: Finding[];
  /** Attribution of the fault, when one surfaced (or a finding named an op). */
  attribution: Attribution | null;
  /** A fault surfaced in the main trial. */
  faulted: boolean;
  /** Any trial of the run faulted, crashed or hung (main trial, matrix). */
  reproduced: boolean;
  /** The matrix, when the experiment ran one. */
  matrix: MatrixResult[] | null;
  /** Every trial the run made, in order. */
  trials: TrialOutcome[];
  /** The backend's fault information, when a fault surfaced. */
  fault: FaultInfo | null;
  /** compute-sanitizer's first error, when a sanitizer trial ran. */
  sanitizer: SanitizerError | null;
  /** The experiment's configuration (model config, sizes...). */
  config: Record<string, unknown>;
  /** Values the main trial returned. */
  values: Record<string, unknown>;
}

/** A suspected cause of a fault, decided from the evidence of a run. */
export interface Hypothesis {
  /** Stable id (verdict.json and tests key on it). */
  id: string;
  /** One line: what is suspected. */
  title: string;
  /** What would make it true, for the report. */
  description?: string;
  /** Decides the hypothesis from the run's evidence. */
  test(ev: Evidence): HypothesisVerdict;
}

/** A hypothesis with its verdict, as report.md and verdict.json list it. */
export interface HypothesisResult {
  /** The hypothesis's id. */
  id: string;
  /** The hypothesis's title. */
  title: string;
  /** The verdict. */
  status: HypothesisStatus;
  /** What decided it. */
  evidence: string;
}

// ---- the matrix ----

/** A row of a trial matrix: a mode run for a number of isolated trials. */
export interface MatrixRow {
  /** Row name in the table ("baseline", "audit", "stress"); defaults to the mode. */
  name?: string;
  /** The mode of every trial of the row. */
  mode: Mode;
  /** How many trials the row runs. */
  iterations: number;
  /** Extra params for every trial of the row. */
  params?: Record<string, unknown>;
}

/** The verdict.json shape of one row, plus the breakdown behind the error count. */
export interface MatrixResult {
  /** The row's name. */
  name: string;
  /** The row's mode. */
  mode: Mode;
  /** Trials run. */
  iterations: number;
  /** Trials that did not end OK. */
  errors: number;
  /** PASS when no trial failed. */
  status: "PASS" | "FAIL";
  /** Trials by status (OK, FAULT, CRASH, HANG...). */
  outcomes: Partial<Record<TrialStatus, number>>;
  /** Index (within the row) of the first failing trial, with its summary. */
  firstError?: { iteration: number; status: TrialStatus; detail: string };
  /** Wall time of the row in milliseconds. */
  wallMs: number;
  /** The row's trials by the device(s) they ran on ("2", or "0+1" for a trial on two), when placed. */
  devices?: MatrixDeviceResult[];
}

/** One device's share of a matrix row. */
export interface MatrixDeviceResult {
  /** The host device id, or ids joined by "+" for a trial that uses several. */
  device: string;
  /** Trials of the row it ran. */
  trials: number;
  /** Those that did not end OK. */
  errors: number;
}

// ---- the run report ----

/** A debug environment preset: the vendor runtime's own switches a trial runs under. */
export interface DebugEnv {
  /** The preset's name ("hip"). */
  name: string;
  /** What the preset does, in one line. */
  description: string;
  /** The environment variables it sets. */
  vars: Record<string, string>;
}

/** How a run ended: no fault, a fault, or a call the rails or the runtime refused. */
export type RunStatus = "OK" | "FAULT" | "BLOCKED";

/** One trial the run made, for the report's trial list. */
export interface TrialSummary {
  /** Why the trial ran: "run", "replay", "bisect", "matrix", "sanitizer". */
  purpose: string;
  /** The trial's mode. */
  mode: Mode;
  /** How it ended (a TrialStatus). */
  status: string;
  /** Wall time in milliseconds. */
  wallMs: number;
  /** One line on how it ended. */
  detail: string;
  /** The trial's folder. */
  dir?: string;
  /** The host devices it was placed on (absent: every device visible, device 0). */
  devices?: number[];
}

/** What a run's records (report.md, verdict.json, trace, timeline) are written from. */
export interface RunReport {
  /** The experiment's name. */
  experiment: string;
  /** The run's id (its folder name). */
  runId: string;
  /** A one-line description of the experiment (its purpose). */
  title?: string;
  /** The headline of a run with no fault and no root cause, where "not reproduced" is not the word (a trace). */
  cleanHeadline?: string;
  /** How the run ended. */
  status: RunStatus;
  /** The backend the trials ran on. */
  backend: string;
  /** The device's name. */
  device: string;
  /** The host id of the main trial's device; null when unknown. */
  deviceId?: number | null;
  /** What the library was built for, null when unknown. */
  build?: BuildInfo | null;
  /** The configuration recorded for the report (model shapes, the planted fault, ...). */
  config: Record<string, unknown>;
  /** The main trial's mode. */
  mode: Mode;
  /** The debug environment preset the trials ran under, null for none. */
  debugEnv: DebugEnv | null;
  /** The command line that started the run. */
  command: string;
  /** When the run started (ISO 8601). */
  started: string;
  /** When the run finished (ISO 8601). */
  finished: string;
  /** The journal of the main trial (the faulting one when there was a fault). */
  records: OpRecord[];
  /** Guard-rail findings of the main trial. */
  findings: Finding[];
  /** Where the fault surfaced and what caused it, null when nothing did. */
  attribution: Attribution | null;
  /** The hypotheses with their verdicts. */
  hypotheses: HypothesisResult[];
  /** The matrix's rows, null when no matrix ran. */
  matrix: MatrixResult[] | null;
  /** The backend's fault information, when a fault surfaced. */
  fault: FaultInfo | null;
  /** compute-sanitizer's first error, when a sanitizer trial ran. */
  sanitizer: SanitizerError | null;
  /** Every trial the run made, in order. */
  trials: TrialSummary[];
  /** The experiment's own summary paragraphs, placed after the generated one. */
  notes?: string[];
  /** Next steps; generated ones are used when absent. */
  nextSteps?: string[];
  /** Values the main trial returned. */
  values?: Record<string, unknown>;
  /** The [D2H_AUDIT_START]/[D2H_AUDIT_END] lines of the main trial, when the experiment asks for them. */
  auditLog?: string[];
}

/** verdict.json: the machine-readable outcome of a run. */
export interface Verdict {
  /** The experiment's name. */
  experiment: string;
  /** The run's id (its folder name). */
  run_id: string;
  /** The backend the trials ran on. */
  backend: string;
  /** The device's name. */
  device: string;
  /** The library's GPU targets and who chose them; null when unknown. */
  build: { targets: string[]; chosen_by: string } | null;
  /** The configuration recorded for the report. */
  config: Record<string, unknown>;
  /** How the run ended. */
  status: RunStatus;
  /** The op where the fault surfaced, null when none did. */
  surfaced_at: { op: number; kind: string; name: string; error: string } | null;
  /** The op that caused the fault or broke the rule, null when none was named. */
  root_cause: {
    op: number;
    kind: string;
    kernel: string;
    name: string;
    step: number | null;
    layer: number | null;
    argument: string | null;
    invariant: string | null;
    detail: string;
    /** For a refused call: the earlier op that made it wrong. */
    cause: CauseOp | null;
  } | null;
  /** The hypotheses with their verdicts. */
  hypotheses: { id: string; title: string; status: string; evidence: string }[];
  /** The matrix's rows (empty when no matrix ran). */
  matrix: {
    name: string;
    mode: string;
    iterations: number;
    errors: number;
    status: string;
    devices?: MatrixDeviceResult[];
  }[];
  /** The host id of the device the main trial (whose journal this verdict reads) ran on; null when unknown. */
  device_id: number | null;
  /** How the root cause was named, null when nothing faulted. */
  attribution: {
    method: string;
    replays: number;
    wall_s: number;
    timing_dependent: boolean;
    reproduced_under_blocking: boolean | null;
    witness_agrees: boolean | null;
  } | null;
  /** Every guard-rail finding of the main trial, in op order. */
  findings: VerdictFinding[];
  /** compute-sanitizer memcheck's first error beside faultline's root cause, when a sanitizer trial ran. */
  sanitizer: VerdictSanitizer | null;
  /** The main trial's mode. */
  mode: string;
  /** The debug variables the trials ran under, null for none. */
  debug_env: Record<string, string> | null;
  /** When the run started (ISO 8601). */
  started: string;
  /** When the run finished (ISO 8601). */
  finished: string;
  /** The command line that started the run. */
  command: string;
  /** A trace's verdict only (deno task trace): the program, its processes, the launch named. */
  trace?: VerdictTrace;
}

/** What a trace adds to verdict.json (scripts/trace/report.ts). */
export interface VerdictTrace {
  /** The program and its arguments, as a shell line. */
  argv: string;
  /** What the trace exited with: the program's status (a signal: 128 + N; 127 / 126: not found / not runnable). */
  exit_status: number;
  /** The signal that ended the program ("SIGSEGV"), null when it exited. */
  signal: string | null;
  /** The sync policy of the first run, in words. */
  policy: string;
  /** The process the verdict is about (the one that faulted), null when none journaled. */
  main_pid: number | null;
  /** Every journaled process (forked and exec'd children included). */
  processes: VerdictTraceProcess[];
  /** The launch named as the root cause, null when none is. */
  launch: VerdictTraceLaunch | null;
  /** The re-runs made to name the launch: their folder, how they exited and their sync policy. */
  replays: { dir: string; exit: string; policy: string }[];
}

/** One journaled process of a trace, tied to its parent by pid. */
export interface VerdictTraceProcess {
  /** The process id. */
  pid: number;
  /** Its parent's pid, null when not known. */
  ppid: number | null;
  /** Its executable, null when not known. */
  exe: string | null;
  /** Its arguments. */
  argv: string[];
  /** The device it used, null when it made no device call. */
  device: string | null;
  /** Its journal ring, relative to the run folder. */
  journal: string;
  /** Records written. */
  records: number;
  /** Launches among the records still in the ring. */
  launches: number;
  /** Guard-rail findings. */
  findings: number;
  /** Records the live follower never saw. */
  lost_while_following: number;
  /** Records the ring overwrote. */
  overwritten: number;
  /** Calls that never returned ("#12 d2h cuMemcpyDtoH_v2"). */
  in_flight: string[];
  /** The first call that returned an error, null when none did. */
  first_failure: string | null;
  /** Entry points cuGetProcAddress handed out that ran untraced. */
  unhooked: string[];
}

/** The launch a trace names: where it is, its geometry, its arguments and host backtrace. */
export interface VerdictTraceLaunch {
  /** Its op id in the process's journal. */
  op: number;
  /** Its place among the process's launches, from 0. */
  ordinal: number | null;
  /** The kernel's name. */
  kernel: string;
  /** Blocks in x, y and z, null when not known. */
  grid: number[] | null;
  /** Threads per block in x, y and z, null when not known. */
  block: number[] | null;
  /** Dynamic shared memory in bytes, null when not known. */
  shared_bytes: number | null;
  /** The stream it was enqueued on. */
  stream: string;
  /** "arg0 = cuMemAlloc#1+0 (...)", then the scalars. */
  arguments: string[];
  /** A graph launch's captured launches. */
  captured: { op: number; kernel: string; ordinal: number | null }[];
  /** The host backtrace of the launch call. */
  backtrace: string[];
}

/** A finding as verdict.json lists it (every field present, null when unknown). */
export interface VerdictFinding {
  /** Op id. */
  op: number;
  /** The rail that found it. */
  rail: string;
  /** The op's kind. */
  kind: string | null;
  /** Kernel or tensor name. */
  name: string | null;
  /** The workload's step of the op. */
  step: number | null;
  /** The model layer of the op. */
  layer: number | null;
  /** The scheduler's name for the op. */
  label: string | null;
  /** The argument at fault. */
  argument: string | null;
  /** The rule that was broken. */
  invariant: string;
  /** The values that break it. */
  detail: string;
  /** "error" when the rail blocked the call, "warn" when it only recorded it. */
  severity: "error" | "warn" | null;
  /** The allocation the argument resolved to, null when none. */
  allocation: {
    id: number;
    name: string;
    offset: number;
    bytes: number;
    size: number;
    state: AllocationState;
  } | null;
}

/** memcheck's first error in verdict.json, and whether it agrees with faultline's root cause. */
export interface VerdictSanitizer {
  /** The error's first line. */
  headline: string;
  /** The kernel that made the access. */
  kernel: string | null;
  /** Whether the access read or wrote. */
  access: "read" | "write" | null;
  /** Bytes of the access. */
  size: number | null;
  /** The address accessed. */
  address: number | null;
  /** "out of bounds", "misaligned", ... */
  problem: string | null;
  /** The journal's allocation the address (or the nearest allocation) belongs to, and the offset in it. */
  allocation: { name: string | null; offset: number | null } | null;
  /** The allocation nearest to the address and how far before or after it the access lies. */
  nearest: { address: number; size: number; distance: number; side: "before" | "after" } | null;
  /** The error count memcheck printed, when it did. */
  errors: number | null;
  /** Same kernel, same allocation as faultline's root cause (null: not comparable). */
  agreement: { kernel: boolean | null; allocation: boolean | null; agrees: boolean | null };
}
