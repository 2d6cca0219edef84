/** The command-line helper every entry point shares: strict parsing, --help, typed flag values. */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  choiceFlag,
  dirFlag,
  fileFlag,
  intFlag,
  numberFlag,
  parseCli,
  parseCliWithCommand,
  UsageError,
} from "../../../scripts/cli/flags.ts";
import { matrixTable } from "../../../scripts/report/matrix_table.ts";

const cli = {
  name: "t",
  usage: "usage: t",
  options: { port: { type: "string" }, many: { type: "string", multiple: true }, on: { type: "boolean" } },
} as const;

const refuses = (f: () => unknown, message: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof UsageError && message.test(e.message));

Deno.test("cli flags: known flags parse; an unknown flag, a missing value or a stray argument is a UsageError", () => {
  const { values } = parseCli(cli, ["--port", "80", "--many", "a", "--many=b", "--on"]);
  assert.deepEqual({ ...values }, { port: "80", many: ["a", "b"], on: true });
  refuses(() => parseCli(cli, ["--bogus"]), /^unknown option --bogus$/);
  refuses(() => parseCli(cli, ["--port"]), /^--port needs a value$/);
  refuses(() => parseCli(cli, ["--port", "--on"]), /^--port needs a value/);
  refuses(() => parseCli(cli, ["--on=1"]), /^--on takes no value$/);
  refuses(() => parseCli(cli, ["stray"]), /^unexpected argument stray$/);
  const one = { ...cli, positionals: { min: 1, max: 1, name: "<file>" } };
  refuses(() => parseCli(one, []), /^missing <file>$/);
  assert.deepEqual(parseCli(one, ["f"]).positionals, ["f"]);
  assert.throws(() => parseCli(cli, ["--port", "1", "--help"]), (e: unknown) => !(e instanceof UsageError));
});

Deno.test("cli flags: numbers, integers and choices are checked against their range", () => {
  assert.equal(numberFlag(undefined, "x"), undefined);
  assert.equal(numberFlag("0.5", "scale", { positive: true }), 0.5);
  for (const bad of ["small", "", "0", "-1", "NaN", "1e999"]) {
    refuses(() => numberFlag(bad, "scale", { positive: true }), /^--scale must be a positive number, got /);
  }
  assert.equal(intFlag("65535", "port", { min: 0, max: 65535 }), 65535);
  for (const bad of ["65536", "-1", "1.5", "0x10", "1e3", "http", " "]) {
    refuses(() => intFlag(bad, "port", { min: 0, max: 65535 }), /^--port must be an integer from 0 to 65535/);
  }
  refuses(() => intFlag("4294967296", "alignment", { min: 1, max: 65536 }), /got "4294967296"/);
  assert.equal(choiceFlag("f16", "dtype", ["f32", "f16"]), "f16");
  refuses(() => choiceFlag("f8", "dtype", ["f32", "f16"]), /^--dtype must be one of f32, f16, got "f8"$/);
});

Deno.test("cli flags: a file flag names an existing regular file; a folder flag an existing folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "faultline-cli-" });
  try {
    const file = join(dir, "f");
    await Deno.writeTextFile(file, "x");
    assert.equal(fileFlag(file, "model"), file);
    refuses(() => fileFlag(join(dir, "nope"), "model"), /^--model: no such file: /);
    refuses(() => fileFlag(dir, "model"), /^--model: not a regular file: /);
    refuses(() => fileFlag(join(dir, "nope"), "<journal.bin>"), /^<journal.bin>: no such file/);
    assert.equal(dirFlag(dir, "reports"), dir);
    refuses(() => dirFlag(file, "reports"), /^--reports: not a folder: /);
    refuses(() => dirFlag(join(dir, "nope"), "reports"), /^--reports: no such folder: /);
    assert.equal(dirFlag(join(dir, "new"), "reports", { mayCreate: true }), join(dir, "new"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli flags: options before a program end at --, or at the program; its own arguments stay untouched", () => {
  const c = parseCliWithCommand(cli, ["--port", "1", "--on", "./prog", "--port", "--help", "-x"]);
  assert.equal(c.values.port, "1");
  assert.equal(c.values.on, true);
  assert.deepEqual(c.command, ["./prog", "--port", "--help", "-x"]);
  assert.deepEqual(parseCliWithCommand(cli, ["--", "--on"]).command, ["--on"]);
  assert.deepEqual(parseCliWithCommand(cli, ["--port=2", "p"]).command, ["p"]);
  assert.deepEqual(parseCliWithCommand(cli, []).command, []);
  refuses(() => parseCliWithCommand(cli, ["--bogus", "p"]), /^unknown option --bogus$/);
  refuses(() => parseCliWithCommand(cli, ["--port"]), /^--port needs a value$/);
});

Deno.test("matrix table: no trial is never a PASS", () => {
  assert.match(matrixTable([]), /\*\*Total\*\* \| - \| \*\*0\*\* \| \*\*0\*\* \| \*\*NO TRIALS\*\*/);
});
