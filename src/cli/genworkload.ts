/** ./genworkload: write a random workload and its expected results (see workload/generate.ts). */
import * as os from 'node:os';
import { parse, parseIntArg, runCli, usage, Spec, UsageError } from './args';
import { DEFAULT_MAX_KEY_BYTES, DEFAULT_MAX_VALUE_BYTES } from '../layout/keys-values';
import { InputError } from '../workload/input';
import { Generation, GenOptions } from '../workload/generate';
import { checkOutput, OutputFile, sameFile } from '../workload/output';

export const GEN_SPEC = {
  count: { kind: 'int', short: 'n', min: 1, max: 2 ** 31, def: 1000000, arg: 'N', help: 'requests' },
  puts: { kind: 'int', short: 'p', min: 0, max: 100, def: 50, arg: 'PCT', help: 'percentage of puts' },
  keys: { kind: 'int', short: 'k', min: 1, max: 2 ** 32, def: 100000, arg: 'K', help: 'key space size (keys 0..K-1, spread over u32 with --spread)' },
  zipf: { kind: 'string', short: 'z', arg: 'THETA', help: 'zipf-distributed keys with this exponent (e.g. 0.99); uniform if absent' },
  seed: { kind: 'int', short: 'r', min: 0, max: 2 ** 32 - 1, def: 1, arg: 'SEED', help: 'random seed' },
  threads: { kind: 'int', short: 't', min: 1, max: 1024, def: 1, arg: 'T', help: 'make the workload deterministic for T client threads' },
  window: { kind: 'int', short: 'w', min: 1, max: 65536, def: 1, arg: 'W', help: 'and window W (no key reuse within W requests of a thread)' },
  spread: { kind: 'bool', help: 'map keys over the whole u32 range (0 and 4294967295 included)' },
  'key-bytes': { kind: 'string', arg: 'N', help: 'byte form (set/get/del of strings): keys of N bytes (default 16 when --value-bytes is given)' },
  'value-bytes': { kind: 'string', arg: 'N', help: 'byte form: values of N bytes (default 100 when --key-bytes is given)' },
  del: { kind: 'int', min: 0, max: 100, def: 0, arg: 'PCT', help: 'byte form: percentage of deletes' },
  output: { kind: 'string', short: 'o', def: 'workload.txt', arg: 'FILE', help: 'workload file to write' },
  expected: { kind: 'string', short: 'e', def: 'solution.txt', arg: 'FILE', help: 'expected results file to write' },
  help: { kind: 'bool', short: 'h', help: 'show this help' },
} satisfies Spec;

/** Requests generated between two turns of the event loop (a SIGINT is answered within one batch). */
const BATCH = 100_000;

/**
 * Stream the workload into its two files, a batch at a time. A failure or
 * an interrupt removes both files: half a workload is worse than none.
 */
async function generateFiles(g: Generation, output: string, expected: string): Promise<number> {
  const files: OutputFile[] = [];
  let interrupted: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = signal;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    files.push(OutputFile.open(output, 'workload'));
    files.push(OutputFile.open(expected, 'expected results'));
    while (g.run(BATCH, files[0], files[1])) {
      await new Promise((r) => setImmediate(r));
      if (interrupted !== null) {
        for (const f of files) f.remove();
        process.stderr.write(`genworkload: ${interrupted === 'SIGINT' ? 'interrupted' : 'terminated'}: removed the partial files\n`);
        return 128 + os.constants.signals[interrupted];
      }
    }
    for (const f of files) f.close();
    return 0;
  } catch (e) {
    for (const f of files) f.remove();
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

runCli('genworkload', [InputError], async () => {
    const o = parse(GEN_SPEC, process.argv.slice(2));
    if (o.help) {
      process.stdout.write(usage('genworkload', '[-n N] [-p PCT] [-k K] [-z THETA] [-t T -w W] [--key-bytes N --value-bytes N [--del PCT]] [-o FILE] [-e FILE]', GEN_SPEC));
      return 0;
    }
    let zipf: number | undefined;
    if (o.zipf !== undefined) {
      zipf = Number(o.zipf);
      if (!/^\d*\.?\d+$/.test(o.zipf) || !(zipf > 0) || zipf > 10) throw new UsageError(`-z needs an exponent in (0, 10], got "${o.zipf}"`);
    }
    const bytes = o['key-bytes'] !== undefined || o['value-bytes'] !== undefined;
    const keyBytes = bytes ? parseIntArg('--key-bytes', o['key-bytes'] ?? '16', 1, DEFAULT_MAX_KEY_BYTES) : undefined;
    const valueBytes = bytes ? parseIntArg('--value-bytes', o['value-bytes'] ?? '100', 1, DEFAULT_MAX_VALUE_BYTES) : undefined;
    if (o.del > 0 && !bytes) throw new UsageError('--del needs the byte form (--key-bytes and/or --value-bytes): u32 workloads have no delete');
    if (o.puts + o.del > 100) throw new UsageError(`-p ${o.puts} and --del ${o.del} add up to more than 100 percent`);
    const gen: GenOptions = {
      count: o.count,
      putPercent: o.puts,
      keys: o.keys,
      zipf,
      seed: o.seed,
      threads: o.threads,
      window: o.window,
      spread: o.spread,
      keyBytes,
      valueBytes,
      delPercent: o.del,
    };
    if (sameFile(o.output, o.expected)) throw new UsageError(`-o and -e name one file (${o.output}): give two`);
    // What cannot be written is said before the key space is drawn (seconds for a large -k).
    checkOutput(o.output, 'workload');
    checkOutput(o.expected, 'expected results');
    return await generateFiles(new Generation(gen), o.output, o.expected);
  });
