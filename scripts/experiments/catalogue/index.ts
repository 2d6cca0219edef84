/** Every case of the fault catalogue, by name: the clean runs, then the planted faults by class. */
import type { CatalogueCase } from "./case.ts";
import { CLEAN_CASES } from "./clean.ts";
import { COPY_CASES } from "./copies.ts";
import { MEMORY_CASES, WRAP_CASES } from "./memory.ts";
import { PARAM_CASES } from "./params.ts";
import { REDZONE_CASES } from "./redzones.ts";
import { STREAM_CASES } from "./streams.ts";
import { USAGE_CASES } from "./usage.ts";

export const CASES: Readonly<Record<string, CatalogueCase>> = {
  ...CLEAN_CASES,
  ...MEMORY_CASES,
  ...WRAP_CASES,
  ...COPY_CASES,
  ...PARAM_CASES,
  ...STREAM_CASES,
  ...USAGE_CASES,
  ...REDZONE_CASES,
};
