/** GgufError: what the GGUF reader and the llama checks throw. */

export type GgufErrorCode =
  | "io" // cannot open or read the file
  | "bad-magic"
  | "bad-version"
  | "truncated" // a count, length or range that runs past the end of the file
  | "malformed" // the header does not parse: unknown value type, bad UTF-8, a bool that is not 0 or 1
  | "duplicate" // a metadata key or a tensor name that appears twice
  | "bad-alignment"
  | "bad-dims" // zero, negative, overflowing, more than 4, or absurdly many elements; partial blocks
  | "bad-offset" // tensor offset not aligned
  | "overlap" // two tensors' data share bytes
  | "bad-type" // tensor type unknown, or one faultline does not read
  | "not-llama"
  | "missing-key"
  | "bad-metadata" // a metadata value of the wrong type or an inconsistent config
  | "missing-tensor"
  | "unused-tensor" // a tensor the llama model the metadata describes does not have
  | "bad-shape"; // a tensor's shape disagrees with the config

/** A problem with a GGUF file; the message starts with the file's path. */
export class GgufError extends Error {
  /** The file's path. */
  readonly file: string;
  /** What kind of problem it is (tests and callers key on it). */
  readonly code: GgufErrorCode;
  /** The message without the file's path. */
  readonly problem: string;
  /** A problem with `file`; the message is `${file}: ${problem}`. */
  constructor(file: string, code: GgufErrorCode, problem: string, options?: ErrorOptions) {
    super(`${file}: ${problem}`, options);
    this.name = "GgufError";
    this.file = file;
    this.code = code;
    this.problem = problem;
  }
}
