// A small flag parser shared by every command. A user mistake becomes a
// UsageError: one line that says what is wrong and what is accepted; the
// command prints it and exits 2. Never a stack trace for a user mistake.

export class UsageError extends Error {
  override name = "UsageError";
}

import { EXIT } from "./io.js";

export { EXIT };

/**
 * The one way a command reports a user mistake: one line on stderr, exit 2.
 * Anything that is not a UsageError is a bug and is thrown on.
 */
export function usageExit(command: string, err: (s: string) => void, e: unknown): number {
  if (!(e instanceof UsageError)) throw e;
  err(`gupstress ${command}: ${e.message}\n`);
  return EXIT.usage;
}

export type FlagKind = "bool" | "int" | "number" | "string" | "enum";

export interface FlagSpec {
  /** without the leading dashes */
  name: string;
  kind: FlagKind;
  /** what the value means, shown by --help, e.g. "SECONDS" */
  arg?: string;
  help: string;
  min?: number;
  max?: number;
  /** enum: the accepted values */
  values?: readonly string[];
  /** may be given more than once: the value is an array */
  repeat?: boolean;
}

export type FlagValue = boolean | number | string | (number | string)[];

/** Parse argv against specs. Returns the flags given (absent ones are undefined). */
export function parseFlags(
  argv: readonly string[],
  specs: readonly FlagSpec[],
): Map<string, FlagValue> {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const out = new Map<string, FlagValue>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--") || a === "--") {
      throw new UsageError(`unexpected argument '${a}' (flags start with --; see --help)`);
    }
    const eq = a.indexOf("=");
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    const spec = byName.get(name);
    if (!spec) {
      throw new UsageError(
        `unknown flag --${name} (accepted: ${specs.map((s) => `--${s.name}`).join(", ")})`,
      );
    }
    let raw: string | undefined;
    if (spec.kind === "bool") {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
    } else if (eq >= 0) raw = a.slice(eq + 1);
    else {
      raw = argv[i + 1];
      if (
        raw === undefined ||
        (raw.startsWith("--") && spec.kind !== "number" && spec.kind !== "int")
      ) {
        throw new UsageError(`--${name} needs a value: ${spec.arg ?? spec.kind}`);
      }
      i++;
    }
    const value = spec.kind === "bool" ? true : convert(spec, raw as string);
    if (spec.repeat) {
      const prev = out.get(name);
      out.set(name, [
        ...((prev as (number | string)[] | undefined) ?? []),
        value as number | string,
      ]);
    } else {
      if (out.has(name)) throw new UsageError(`--${name} given twice`);
      out.set(name, value);
    }
  }
  return out;
}

function convert(spec: FlagSpec, raw: string): number | string {
  const name = `--${spec.name}`;
  switch (spec.kind) {
    case "int":
    case "number": {
      const t = raw.trim();
      // Plain decimal only (1e6 allowed): Number() would also take 0x4, 0o4, 0b100 and +4.
      const n = DECIMAL.test(t) ? Number(t) : Number.NaN;
      const range = rangeText(spec);
      if (!Number.isFinite(n))
        throw new UsageError(`${name} '${raw}' is not a number (accepted: ${range})`);
      if (spec.kind === "int" && !Number.isInteger(n)) {
        throw new UsageError(`${name} '${raw}' is not a whole number (accepted: ${range})`);
      }
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw new UsageError(`${name} ${raw} is out of range (accepted: ${range})`);
      }
      return n;
    }
    case "enum":
      if (!spec.values?.includes(raw)) {
        throw new UsageError(`${name} '${raw}' is not one of: ${spec.values?.join(", ")}`);
      }
      return raw;
    default:
      if (raw === "") throw new UsageError(`${name} needs a non-empty value`);
      return raw;
  }
}

/** A decimal number: optional minus, digits with an optional fraction, an optional exponent. */
const DECIMAL = /^-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?$/;

function rangeText(spec: FlagSpec): string {
  const kind = spec.kind === "int" ? "a whole number" : "a number";
  if (spec.min !== undefined && spec.max !== undefined)
    return `${kind} from ${spec.min} to ${spec.max}`;
  if (spec.min !== undefined) return `${kind} >= ${spec.min}`;
  if (spec.max !== undefined) return `${kind} <= ${spec.max}`;
  return kind;
}

/** The --help text of a flag table. */
export function flagHelp(specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => {
    const left = `--${s.name}${s.kind === "bool" ? "" : ` ${s.arg ?? s.kind.toUpperCase()}`}`;
    return [left, s.help] as const;
  });
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  return rows.map(([l, h]) => `  ${l.padEnd(width)}${h}`).join("\n");
}
