/**
 * What a sync policy is: the rule for when the runtime synchronizes. Before
 * and after every native call the audit session asks the policy, which
 * answers "none", "stream" (wait for the call's stream) or "device" (wait for
 * the whole device). The session runs the wait through the boundary, so it is
 * journaled (scalars.policy = 1) and the race check sees its ordering.
 *
 *   const mine: SyncPolicy = {
 *     name: "sync-after-rope",
 *     after: (call) => (call.kind === "launch" && call.name === "rope" ? "stream" : "none"),
 *   };
 */
import type { NativeCall } from "../../mod.ts";

/** What a policy asks for around a call: nothing, a sync of the call's stream, or of the whole device. */
export type SyncAction = "none" | "stream" | "device";

/** Decides which syncs the runtime adds before and after each native call. */
export interface SyncPolicy {
  /** The policy's name, as reports show it. */
  readonly name: string;
  /** Before the native call (a policy keeps nothing of `call` by reference: call objects are reused). */
  before?(call: NativeCall): SyncAction;
  /** After the native call returned `status` (not asked when it failed). */
  after?(call: NativeCall, status: number): SyncAction;
}

/** Kinds that enqueue device work. */
export const DEVICE_WORK: ReadonlySet<string> = new Set(["launch", "h2d", "d2h", "d2d", "p2p", "memset"]);
