/**
 * Warns (once per object, on stderr) when a buffer, stream or event is
 * garbage-collected without free()/destroy(). It never frees anything itself:
 * the native object may still be in use by queued device work.
 */
const registry = new FinalizationRegistry<string>((what) => {
  console.error(
    `faultline: warning: ${what} was garbage-collected without being freed (native resource leaked)`,
  );
});

/** Starts watching `obj`; `token` is what untrack() takes. */
export function track(obj: object, what: string, token: object): void {
  registry.register(obj, what, token);
}

export function untrack(token: object): void {
  registry.unregister(token);
}
