/**
 * Models for experiments: Llama configurations and presets, GGUF files (read strictly, or written with
 * random weights), and a model's weights in device memory.
 *
 *   import { gpuModel, presetConfig } from "@faultline/faultline/model";
 *   const model = gpuModel(device, presetConfig("tiny"), 1, { dtype: "f32" });
 */
export {
  checkCompatible,
  configProblems,
  formatMismatches,
  isPresetName,
  type LlamaConfig,
  type Mismatch,
  parameterCount,
  presetConfig,
  type PresetName,
  PRESETS,
  type TensorLayout,
} from "./config.ts";
export {
  GgufError,
  type GgufErrorCode,
  GgufFile,
  type GgufTensorInfo,
  llamaConfigOf,
  type LlamaGguf,
  type MetadataType,
  type MetadataValue,
  openLlamaGguf,
} from "./gguf.ts";
export {
  type SynthDtype,
  synthGguf,
  type SynthGgufOptions,
  type SynthOptions,
  type SynthTensor,
  synthWeights,
} from "./synth.ts";
export type { WriteResult } from "./gguf_write.ts";
export type { QuantType } from "./quant.ts";
export type { SynthData } from "./rng.ts";
export type { EngineNumerics, KvCacheType } from "./numerics.ts";
export {
  type Allocator,
  type DeviceWeight,
  GpuModel,
  gpuModel,
  type GpuModelOptions,
  uploadGguf,
  type UploadOptions,
  type WeightDtype,
} from "./gpu_model.ts";
