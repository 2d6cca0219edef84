/**
 * faultline: a scriptable runtime for GPU fault forensics.
 *
 * This module only re-exports; see ffi/README.md for the API.
 */
export {
  type Backend,
  BACKENDS,
  libraryPath,
  type LoadedLibrary,
  loadLibrary,
  repoRoot,
} from "./ffi/library.ts";
export { hostDeviceIds, Runtime, runtime, VISIBILITY_VARIABLE } from "./ffi/runtime.ts";
export { type BuildInfo, describeBuild, readBuildInfo } from "./ffi/build_info.ts";
export { Device, type DeviceProps, type HostCopyOptions, type MallocOptions } from "./ffi/device.ts";
export {
  type CopyOptions,
  DeviceBuffer,
  type DeviceCopyOptions,
  DeviceSlice,
  type FillOptions,
  type HostData,
  PinnedBuffer,
} from "./ffi/buffer.ts";
export { memcpyPeer, type PeerCopy } from "./ffi/peer.ts";
export { Stream } from "./ffi/stream.ts";
export { Event } from "./ffi/event.ts";
export {
  check,
  FaultlineError,
  FaultlineLoadError,
  FaultlineUsageError,
  STATUS_NAMES,
  statusMessage,
  statusName,
} from "./ffi/errors.ts";
export {
  defineKernel,
  type KernelArgs,
  type KernelArgSpec,
  type KernelArgType,
  type KernelDescriptor,
  launch,
  type PointerValue,
} from "./ffi/kernels.ts";
export {
  type Dim3,
  type KernelArgValues,
  type KernelSymbol,
  type KernelSymbols,
  type NativeArg,
  type NativeArgs,
  type PerLaunch,
} from "./ffi/kernel_spec.ts";
export type { BuiltinKernel } from "./ffi/kernels_builtin.ts";
export {
  KernelCompileError,
  KernelModule,
  type LaunchGeometryOptions,
  loadKernels,
  type LoadKernelsOptions,
} from "./ffi/kernel_module.ts";
export { baseKernels, faultFill, faultWriteAt, redzoneCheck, tick } from "./ffi/kernels_base.ts";
export { attentionDecodeScratchFloats, ATTN_DECODE_CHUNK, llamaKernels } from "./ffi/kernels_llama.ts";
export {
  Boundary,
  boundary,
  type CallObserver,
  type FreeHold,
  type NativeCall,
  type OpContext,
  type PointerArg,
} from "./ffi/boundary.ts";
export {
  coreSymbols,
  expectedExports,
  FL_ABI_VERSION,
  MemcpyKind,
  type NativeLib,
  type NativeSymbols,
  Status,
  type Symbols,
  symbols,
} from "./ffi/symbols.ts";
// Every record type (journal, faults, findings, trials, attribution, hypotheses, verdict.json).
export * from "./records.ts";
// The instrumentation layer the audit session (scripts/audit/) builds on: instrumented calls, the
// journal ring and its decoder, the allocation registry, the race check and redzones.
export { makeCall, pointer, through, throughAsync } from "./ffi/call.ts";
export { memcpy } from "./ffi/buffer.ts";
export type { DeviceRef, StreamRef } from "./ffi/resource.ts";
export {
  d2hAuditLines,
  type DecodedJournal,
  decodeJournal,
  JournalFormatError,
  journalJsonl,
  writeJournalJsonl,
} from "./ffi/journal.ts";
export {
  type JournalMapSymbols,
  JournalWriter,
  type JournalWriterOptions,
  MAX_POINTERS,
  MAX_SCALARS,
  STATUS_BLOCKED,
} from "./ffi/journal_native.ts";
export { type FollowHandlers, JournalFollower } from "./ffi/journal_follow.ts";
export {
  findRaces,
  type HistoryHolder,
  isSynchronous,
  OnlineRaces,
  type Race,
  RaceDetector,
  type RaceOptions,
  type RaceSide,
} from "./ffi/races.ts";
export {
  REDZONE_PATTERN,
  type RedzoneCheckResult,
  type RedzoneOptions,
  Redzones,
  type RedzoneViolation,
  type RedzoneWriter,
} from "./ffi/redzones.ts";
export {
  type Allocation,
  CallResolution,
  describe as describePointer,
  Registry,
  type RegistryOptions,
  type ResolvedPointer,
} from "./ffi/registry.ts";
