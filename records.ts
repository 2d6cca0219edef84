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
  grid: [number, number, number];
  block: [number, number, number];
  sharedBytes: number;
}

// ---- allocations ----

/** What an allocation record holds; the allocation id is the op id of the alloc call. */
export interface AllocationInfo {
  id: number;
  /** The address the caller uses (after the leading redzone, if any). */
  ptr: number;
  /** Bytes the caller asked for. */
  bytes: number;
  name: string;
  align: number;
  device: number;
  /** Address the backend returned, and the bytes it allocated (redzones included). */
  base: number;
  allocBytes: number;
  /** Guard bytes on each side (0 without redzones). */
  redzone: number;
  host: boolean;
}

export type AllocationState = "live" | "freed";

/** Where an address falls relative to an allocation. */
export type Placement = "inside" | "redzone_before" | "redzone_after" | "outside";

// ---- the library ----

/** What a library was built for (`<library>.json` beside it, written by scripts/build.ts). */
export interface BuildInfo {
  backend: string;
  /** GPU targets the code was compiled for (gfx942, sm_90); the CPU architecture for sim. */
  targets: string[];
  /** Who picked the targets: "--hip-arch", "amdgpu-arch", "rocminfo", "default (...)". */
  chosen_by: string;
  /** Target → the compiler that built its code. */
  compilers: Record<string, string>;
  /** The library's size when built: a library rebuilt or copied without its JSON does not match it. */
  library_bytes: number;
  built: string;
}

// ---- the journal ----

/**
 * A pointer argument resolved against the allocations live (or freed) when
 * the call was made: `alloc` is the allocation id (null: in no allocation),
 * `name`, `offset`, `size`, `state` and `placement` describe it.
 */
export interface JournalPointer {
  arg: string;
  ptr: number;
  /** Bytes the call touches from ptr on. */
  bytes: number;
  access: Access;
  elem: number;
  alloc: number | null;
  name?: string;
  offset?: number;
  size?: number;
  state?: AllocationState;
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
  kind: OpKind | "unknown";
  device: number;
  stream: number;
  name: string;
  scalars: Record<string, number>;
  pointers: JournalPointer[];
  host?: number;
  event?: number;
  result?: number;
  /** A loaded kernel's launch geometry (grid, block, dynamic shared bytes). */
  geometry?: LaunchGeometry;
  /** A traced program's launch: its position among the process's launches, from 0. */
  ordinal?: number;
  step: number | null;
  layer: number | null;
  op: string | null;
  /**
   * The call's status; null when the call never returned (the process died
   * inside it, or it is still running); -1 when a guard rail blocked it.
   */
  status: number | null;
  /** The status's name ("hipSuccess", "hipErrorIllegalAddress", "blocked", "in flight"). */
  result_name: string;
  truncated?: ("pointers" | "scalars")[];
}

/** A pointer argument of a journal record as the forensics reads it back (fields a journal may lack are optional). */
export interface PointerRecord {
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
  access?: string;
  /** "live" or "freed" at the time of the call. */
  state?: string;
}

/**
 * A journal record as the forensics reads it back (scripts/forensics/journal_read.ts):
 * the intent and the outcome merged, older or hand-written spellings normalized.
 */
export interface OpRecord {
  id: number;
  /** Microseconds since the start of the trial (when the journal has times). */
  time?: number;
  /** Duration in microseconds, when known. */
  dur?: number;
  kind: string;
  /** Kernel name, tensor name, or the export's verb. */
  name: string;
  device?: number;
  stream: number;
  scalars: Record<string, number>;
  pointers: PointerRecord[];
  host?: number;
  event?: number;
  step?: number;
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
  device: number;
  /** Faulting device address; 0 when the backend does not know it. */
  address: number;
  /** Stream of the faulting op. */
  stream: number;
  /** fl_set_tag value when the op was enqueued: the boundary's call id, 0 if none. */
  tag: number;
  /** Kernel name, or "memcpy"/"memset". */
  op: string;
  access: "read" | "write" | "unknown";
}

/** compute-sanitizer memcheck's first error, parsed (scripts/forensics/sanitizer.ts). */
export interface SanitizerError {
  /** "Invalid __global__ write of size 4 bytes", or the API error line. */
  headline: string;
  access: "read" | "write" | null;
  size: number | null;
  kernel: string | null;
  thread: string | null;
  block: string | null;
  address: number | null;
  /** "out of bounds", "misaligned"... */
  problem: string | null;
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
  rail: string;
  /** Journal op id of the call. */
  op: number;
  kind?: string;
  /** Kernel or copy (tensor) name. */
  name?: string;
  step?: number;
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
  [key: string]: unknown;
}

// ---- trials ----

export interface TrialSpec {
  /** Experiment name (the folder under reports/). */
  experiment: string;
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
  status: "OK" | "FAULT" | "BLOCKED" | "ERROR";
  /** The error that ended the trial, if one did. */
  error?: { code?: number; name?: string; message: string; op?: number } | null;
  fault?: FaultInfo | null;
  findings?: Finding[];
  /** Backend and device the trial ran on. */
  backend?: string;
  device?: string;
  /** The host id of the device it ran on, and that device's bus id (the placement is checked against it). */
  deviceId?: number;
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

export interface TrialOutcome {
  spec: TrialSpec;
  status: TrialStatus;
  /** Exit code; null when the process was killed by a signal. */
  code: number | null;
  /** Terminating signal ("SIGSEGV", "SIGKILL"...), null when it exited. */
  signal: string | null;
  /** The child's TrialResult, when its last stdout line was one. */
  result: TrialResult | null;
  stdoutTail: string;
  stderrTail: string;
  wallMs: number;
  /** The child's command line. */
  command: string[];
  /** The trial was killed at its time limit. */
  timedOut: boolean;
}

/** What one trial left behind, as the forensics reads it. */
export interface TrialEvidence {
  outcome: TrialOutcome | null;
  records: OpRecord[];
  findings: Finding[];
  fault: FaultInfo | null;
}

// ---- attribution ----

/** The op where a fault surfaced. */
export interface SurfacedAt {
  op: number;
  kind: string;
  name: string;
  /** "an illegal memory access was encountered (hipErrorIllegalAddress, 700)". */
  error: string;
  status: number | null;
  stream: number;
  step?: number;
  layer?: number;
  /** The scheduler's name for the op ("logits D2H"), when it has one. */
  opName?: string;
  label: string;
}

/** A pointer argument of the root-cause op, resolved. */
export interface ResolvedArg {
  arg: string;
  ptr?: number;
  alloc?: number | null;
  name?: string;
  offset?: number;
  bytes?: number;
  size?: number;
  access?: string;
  state?: string;
  /** One line: "q = rope_q+0 (4096 B of 4096 B, live, rw)". */
  text: string;
}

/** The op that caused the fault (or broke the rule). */
export interface RootCause {
  /** Op id in the original (faulting) trial's journal. */
  op: number;
  kind: string;
  /** Kernel (or copy) name. */
  kernel: string;
  /** The scheduler's name for the op ("RoPE Q"), else the kernel name. */
  name: string;
  step: number | null;
  layer: number | null;
  stream: number;
  argument: string | null;
  invariant: string | null;
  detail: string;
  scalars: Record<string, number>;
  args: ResolvedArg[];
  findings: Finding[];
  /** The op's id in the replay that named it, when a replay did. */
  replayOp?: number;
  /** For a refused call: the earlier op that made it wrong (the first free, the destroy). */
  cause?: CauseOp | null;
}

/** An op of the journal named as the cause of a later one's problem. */
export interface CauseOp {
  op: number;
  kind: string;
  name: string;
  step: number | null;
  layer: number | null;
  /** The scheduler's name for the op. */
  label: string | null;
}

export type AttributionMethod =
  | "launch-status"
  | "blocking-replay"
  | "bisect"
  | "fault-info"
  | "finding"
  | "usage-error"
  | "redzone-replay"
  | "none";

export interface Attribution {
  method: AttributionMethod;
  surfaced: SurfacedAt | null;
  rootCause: RootCause | null;
  /** true: the fault came back with a sync after every launch; false: it did not; null: not tried. */
  reproducedUnderBlocking: boolean | null;
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

export type HypothesisStatus = "CONFIRMED" | "RULED_OUT" | "INCONCLUSIVE" | "NOT_REPRODUCED";

/** What a hypothesis's predicate returns. */
export interface HypothesisVerdict {
  status: HypothesisStatus;
  evidence: string;
}

/** Everything a hypothesis may look at. */
export interface Evidence {
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
  fault: FaultInfo | null;
  sanitizer: SanitizerError | null;
  /** The experiment's configuration (model config, sizes...). */
  config: Record<string, unknown>;
  /** Values the main trial returned. */
  values: Record<string, unknown>;
}

export interface Hypothesis {
  id: string;
  title: string;
  /** What would make it true, for the report. */
  description?: string;
  test(ev: Evidence): HypothesisVerdict;
}

export interface HypothesisResult {
  id: string;
  title: string;
  status: HypothesisStatus;
  evidence: string;
}

// ---- the matrix ----

export interface MatrixRow {
  /** Row name in the table ("baseline", "audit", "stress"); defaults to the mode. */
  name?: string;
  mode: Mode;
  iterations: number;
  /** Extra params for every trial of the row. */
  params?: Record<string, unknown>;
}

/** The verdict.json shape of one row, plus the breakdown behind the error count. */
export interface MatrixResult {
  name: string;
  mode: Mode;
  iterations: number;
  errors: number;
  status: "PASS" | "FAIL";
  /** Trials by status (OK, FAULT, CRASH, HANG...). */
  outcomes: Partial<Record<TrialStatus, number>>;
  /** Index (within the row) of the first failing trial, with its summary. */
  firstError?: { iteration: number; status: TrialStatus; detail: string };
  wallMs: number;
  /** The row's trials by the device(s) they ran on ("2", or "0+1" for a trial on two), when placed. */
  devices?: MatrixDeviceResult[];
}

/** One device's share of a matrix row. */
export interface MatrixDeviceResult {
  /** The host device id, or ids joined by "+" for a trial that uses several. */
  device: string;
  trials: number;
  errors: number;
}

// ---- the run report ----

/** A debug environment preset: the vendor runtime's own switches a trial runs under. */
export interface DebugEnv {
  name: string;
  description: string;
  vars: Record<string, string>;
}

export type RunStatus = "OK" | "FAULT" | "BLOCKED";

/** One trial the run made, for the report's trial list. */
export interface TrialSummary {
  purpose: string;
  mode: Mode;
  status: string;
  wallMs: number;
  detail: string;
  dir?: string;
  /** The host devices it was placed on (absent: every device visible, device 0). */
  devices?: number[];
}

/** What a run's records (report.md, verdict.json, trace, timeline) are written from. */
export interface RunReport {
  experiment: string;
  runId: string;
  /** A one-line description of the experiment (its purpose). */
  title?: string;
  /** The headline of a run with no fault and no root cause, where "not reproduced" is not the word (a trace). */
  cleanHeadline?: string;
  status: RunStatus;
  backend: string;
  device: string;
  /** The host id of the main trial's device; null when unknown. */
  deviceId?: number | null;
  /** What the library was built for, null when unknown. */
  build?: BuildInfo | null;
  config: Record<string, unknown>;
  mode: Mode;
  debugEnv: DebugEnv | null;
  command: string;
  started: string;
  finished: string;
  /** The journal of the main trial (the faulting one when there was a fault). */
  records: OpRecord[];
  findings: Finding[];
  attribution: Attribution | null;
  hypotheses: HypothesisResult[];
  matrix: MatrixResult[] | null;
  fault: FaultInfo | null;
  sanitizer: SanitizerError | null;
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
  experiment: string;
  run_id: string;
  backend: string;
  device: string;
  /** The library's GPU targets and who chose them; null when unknown. */
  build: { targets: string[]; chosen_by: string } | null;
  config: Record<string, unknown>;
  status: RunStatus;
  surfaced_at: { op: number; kind: string; name: string; error: string } | null;
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
  hypotheses: { id: string; title: string; status: string; evidence: string }[];
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
  mode: string;
  debug_env: Record<string, string> | null;
  started: string;
  finished: string;
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
  processes: VerdictTraceProcess[];
  /** The launch named as the root cause, null when none is. */
  launch: VerdictTraceLaunch | null;
  replays: { dir: string; exit: string; policy: string }[];
}

/** One journaled process of a trace, tied to its parent by pid. */
export interface VerdictTraceProcess {
  pid: number;
  ppid: number | null;
  exe: string | null;
  argv: string[];
  device: string | null;
  /** Its journal ring, relative to the run folder. */
  journal: string;
  /** Records written, launches among those still in the ring, rail findings. */
  records: number;
  launches: number;
  findings: number;
  /** Records the live follower never saw, and records the ring overwrote. */
  lost_while_following: number;
  overwritten: number;
  /** Calls that never returned ("#12 d2h cuMemcpyDtoH_v2"). */
  in_flight: string[];
  first_failure: string | null;
  /** Entry points cuGetProcAddress handed out that ran untraced. */
  unhooked: string[];
}

/** The launch a trace names: where it is, its geometry, its arguments and host backtrace. */
export interface VerdictTraceLaunch {
  op: number;
  /** Its place among the process's launches, from 0. */
  ordinal: number | null;
  kernel: string;
  grid: number[] | null;
  block: number[] | null;
  shared_bytes: number | null;
  stream: string;
  /** "arg0 = cuMemAlloc#1+0 (...)", then the scalars. */
  arguments: string[];
  /** A graph launch's captured launches. */
  captured: { op: number; kernel: string; ordinal: number | null }[];
  backtrace: string[];
}

/** A finding as verdict.json lists it (every field present, null when unknown). */
export interface VerdictFinding {
  op: number;
  rail: string;
  kind: string | null;
  name: string | null;
  step: number | null;
  layer: number | null;
  label: string | null;
  argument: string | null;
  invariant: string;
  detail: string;
  severity: "error" | "warn" | null;
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
  headline: string;
  kernel: string | null;
  access: "read" | "write" | null;
  size: number | null;
  address: number | null;
  problem: string | null;
  /** The journal's allocation the address (or the nearest allocation) belongs to, and the offset in it. */
  allocation: { name: string | null; offset: number | null } | null;
  nearest: { address: number; size: number; distance: number; side: "before" | "after" } | null;
  errors: number | null;
  /** Same kernel, same allocation as faultline's root cause (null: not comparable). */
  agreement: { kernel: boolean | null; allocation: boolean | null; agrees: boolean | null };
}
