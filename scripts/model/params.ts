/**
 * Param rules (scripts/cli/params.ts) for experiments that build a preset model: which preset,
 * and a layer of it. `auto` picks tiny on sim and a 7B-shaped preset on a GPU; the parent does not
 * know the backend yet, so an auto model's layer is checked against the largest it may pick (the
 * trial checks it against the model it builds).
 */
import { integerParam, type ParamCheck } from "../cli/params.ts";
import { PRESETS } from "./config.ts";

/** The values of a `model` param: auto or a preset name. */
export const MODEL_PARAM: readonly string[] = ["auto", ...Object.keys(PRESETS)];

/** A layer index of the model the `model` param (and a `layers` override) names. */
export function layerParam(modelParam = "model", layersParam = "layers"): ParamCheck {
  return (v, p) => {
    const name = p[modelParam] === "auto" || p[modelParam] === undefined
      ? "llama2-7b"
      : String(p[modelParam]);
    const preset = PRESETS[name as keyof typeof PRESETS];
    const layers = Number(p[layersParam] ?? preset?.nLayers ?? 1);
    return integerParam(0, layers - 1)(v, p);
  };
}
