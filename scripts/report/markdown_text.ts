/** Markdown pieces shared by the sections of report.md. */
import type { RunReport } from "../../records.ts";

export const code = (s: string) => "`" + s.replaceAll("`", "'") + "`";
export const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");

export function where(step: number | null | undefined, layer: number | null | undefined): string {
  const p: string[] = [];
  if (step !== null && step !== undefined) p.push(`step ${step}`);
  if (layer !== null && layer !== undefined) p.push(`layer ${layer}`);
  return p.join(", ");
}

/** "logits sync (sync `stream_synchronize`, step 3)" or "d2h `logits`". */
export function surfacedName(s: NonNullable<RunReport["attribution"]>["surfaced"]): string {
  if (!s) return "";
  const w = where(s.step, s.layer);
  return s.opName
    ? `${s.opName} (${s.kind} ${code(s.name)}${w ? `, ${w}` : ""})`
    : `${s.kind} ${code(s.name)}${w ? ` (${w})` : ""}`;
}
