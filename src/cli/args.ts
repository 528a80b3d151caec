/**
 * Command-line flags for the CLIs: a small spec-driven parser over
 * util.parseArgs, turning every mistake into a UsageError with one line.
 */
import { parseArgs } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FlagSpec =
  | { kind: 'int'; short?: string; min: number; max?: number; def: number; help: string; arg: string }
  | { kind: 'string'; short?: string; def?: string; help: string; arg: string }
  | { kind: 'bool'; short?: string; help: string };

export type Spec = Record<string, FlagSpec>;

export type Parsed<S extends Spec> = {
  [K in keyof S]: S[K] extends { kind: 'int' } ? number : S[K] extends { kind: 'bool' } ? boolean : S[K] extends { def: string } ? string : string | undefined;
};

/** Parse a decimal integer flag value strictly ("12" yes; "12x", "1e3", "" no). */
export function parseIntArg(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const range = (): UsageError => new UsageError(`${flag} must be ${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `in ${min}..${max}`}, got ${text}`);
  if (/^-\d+$/.test(text) && min >= 0) throw range();
  if (!/^[+]?\d+$/.test(text)) throw new UsageError(`${flag} needs an integer, got "${text}"`);
  const v = Number(text);
  if (v < min || v > max) throw range();
  return v;
}

/**
 * util.parseArgs reads `-s -5` as a flag missing its value followed by an
 * unknown flag ("argument is ambiguous"): a negative number after an integer
 * flag is a value out of range, and the user should be told so.
 */
function refuseNegativeInts(spec: Spec, argv: string[]): void {
  for (let i = 0; i + 1 < argv.length; i++) {
    if (argv[i] === '--') return;
    if (!/^-\d+$/.test(argv[i + 1])) continue;
    for (const [name, f] of Object.entries(spec))
      if (f.kind === 'int' && (argv[i] === `--${name}` || (f.short !== undefined && argv[i] === `-${f.short}`)))
        parseIntArg(flagName(name, f), argv[i + 1], f.min, f.max);
  }
}

function flagName(name: string, f: FlagSpec): string {
  return f.short ? `-${f.short}` : `--${name}`;
}

export function parse<S extends Spec>(spec: S, argv: string[]): Parsed<S> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, f] of Object.entries(spec)) options[name] = { type: f.kind === 'bool' ? 'boolean' : 'string', ...(f.short ? { short: f.short } : {}) };
  let values: Record<string, string | boolean | undefined>;
  refuseNegativeInts(spec, argv);
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    // parseArgs messages carry further sentences (advice about '--' or
    // '--flag=-X'), sometimes on further lines: keep the first sentence.
    const msg = (e as Error).message.split('\n')[0].split('. ')[0].replace(/\.$/, '');
    // "Option '-n, --threads <value>' argument is ambiguous": a flag followed
    // by another flag where its value should be.
    const ambiguous = /^Option '([^',]+)[^']*' argument is ambiguous/.exec(msg);
    if (ambiguous) throw new UsageError(`${ambiguous[1]} needs a value`);
    throw new UsageError(msg);
  }
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(spec)) {
    const v = values[name];
    if (f.kind === 'bool') out[name] = v === true;
    else if (f.kind === 'int') out[name] = v === undefined ? f.def : parseIntArg(flagName(name, f), v as string, f.min, f.max);
    else {
      if (v === '') throw new UsageError(`${flagName(name, f)} needs a non-empty value`);
      out[name] = v ?? f.def;
    }
  }
  return out as Parsed<S>;
}

export function usage(command: string, synopsis: string, spec: Spec): string {
  const rows = Object.entries(spec).map(([name, f]) => {
    const flags = `${f.short ? `-${f.short}, ` : '    '}--${name}${f.kind === 'bool' ? '' : ` ${f.arg}`}`;
    const def = f.kind === 'int' ? ` (default ${f.def})` : f.kind === 'string' && f.def !== undefined ? ` (default ${f.def})` : '';
    return `  ${flags.padEnd(30)} ${f.help}${def}`;
  });
  return `usage: ${command} ${synopsis}\n\n${rows.join('\n')}\n`;
}

/**
 * Run a CLI body: user mistakes (the listed error classes) become one line on
 * stderr and exit code 2 (usage) or 1 (anything else); nothing else is caught.
 */
export function runCli(command: string, userErrors: Array<new (...a: never[]) => Error>, body: () => Promise<number>): void {
  body().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      if (e instanceof UsageError) {
        process.stderr.write(`${command}: ${e.message} (try '${command} -h')\n`);
        process.exitCode = 2;
      } else if (e instanceof RangeError || userErrors.some((c) => e instanceof c)) {
        process.stderr.write(`${command}: ${(e as Error).message}\n`);
        process.exitCode = 1;
      } else {
        throw e;
      }
    },
  );
}
