/** The block scheduler: LlamaEngine (engine.ts) and its named ops and hooks (ops.ts). */
export { type EngineOptions, LlamaEngine } from "./engine.ts";
export {
  EngineHooks,
  matches,
  Op,
  OP_NAMES,
  type OpArgs,
  type OpHook,
  type OpMatch,
  type OpName,
  type OpReplacement,
  type Phase,
  type ScheduledKind,
} from "./ops.ts";
export type { EngineNumerics, KvCacheType } from "../model/numerics.ts";
export type { QuantType } from "../model/quant.ts";
export {
  type Allocator,
  type DeviceWeight,
  GpuModel,
  gpuModel,
  type GpuModelOptions,
  uploadGguf,
} from "../model/gpu_model.ts";
