/** Validates verdict.json objects against the schema the repository ships (scripts/report/verdict.schema.json). */
import { Ajv2020 } from "ajv/dist/2020.js";

const schema = JSON.parse(
  await Deno.readTextFile(new URL("../../scripts/report/verdict.schema.json", import.meta.url)),
);
// formats (date-time) document the fields; the checks that matter are types, enums and required fields
const validate = new Ajv2020({ allErrors: true, strict: true, validateFormats: false }).compile(schema);

/** The schema's complaints about `v` ("/root_cause/step must be integer,null"), [] when it conforms. */
export function verdictProblems(v: unknown): string[] {
  if (validate(v)) return [];
  return (validate.errors ?? []).map((e: { instancePath: string; message?: string }) =>
    `${e.instancePath || "/"} ${e.message}`
  );
}
