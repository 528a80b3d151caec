/**
 * The text ./genworkload writes, pinned: sha256 (first 16 hex digits) of the
 * workload and expected files of a set of flag combinations, as recorded from
 * the CLI before generation was made to stream (commit 13dd90e), so that
 * streaming changed no byte. Then: generating in batches of any size, across
 * the parts of the client threads, gives the same text as in one go.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Generation, generate, GenOptions } from '../../src/workload/generate';

/** [flags, sha256 of the workload, of the expected results] */
const PINNED: Array<[string, string, string]> = [
  ['-n 20000 -k 1000', '338160e9f7431bc8', 'd9b0110c98b5b32c'],
  ['-n 30000 -k 2000 -t 2 -w 8 -r 5', '78fbb7784b6953e2', '99431991ace81244'],
  ['-n 30000 -k 5000 -t 3 -w 4 -z 0.99 -r 22', '0c5e92294a1416c8', 'dd5e49fd984561c3'],
  ['-n 20000 -k 1000 -t 2 -w 4 --spread -r 23', '720f9bb716e65035', '07ede9db008a7cef'],
  ['-n 5000 -k 200 -p 0 -r 30', 'eb66e71728e91f8a', '543353c3e60bef10'],
  ['-n 5000 -k 200 -p 100 -r 29', '222b25ac81af09db', 'e3b0c44298fc1c14'],
  ['-n 30000 -k 2000 -t 2 -w 8 --key-bytes 16 --value-bytes 100 --del 10 -r 33', '9eda69308a1ffb92', 'd84358e43fd87bd7'],
  ['-n 30000 -k 300 -t 2 -w 4 --key-bytes 8 --value-bytes 3 --del 30 -p 40 -r 36', 'fcffb1655c9e34d0', 'bcf3ee786eb245a1'],
  ['-n 20000 -k 1000 -t 1 -w 16 --key-bytes 12 -z 0.8 --spread -r 7', '8b71314e66698c81', '0e672fc317eb8be9'],
  ['-n 20000 -k 1000 --value-bytes 1 -r 8', 'c22879b476697cce', '2e822246a501a4f2'],
  ['-n 2000 -k 100 --value-bytes 5000 --del 5 -r 9', '1b50cdad78cf3ef3', '4ba69987f58a5f95'],
  ['-n 3000 -k 100 --key-bytes 16 -p 100 -r 10', '399d5d959c084591', 'e3b0c44298fc1c14'],
  ['-n 40000 -k 1000 -t 4 -w 64 --key-bytes 20 --value-bytes 64 --del 25 -p 25 -z 1.2 -r 11', '57dacc6ced18bfec', 'd6b9fbf0ef7e5d43'],
  ['-n 1 -k 1', '6cce57af04b991a6', 'e3b0c44298fc1c14'],
];

const sha = (text: string): string => createHash('sha256').update(text, 'latin1').digest('hex').slice(0, 16);

/** genworkload's flags (its defaults: -n 1000000 -p 50 -k 100000 -r 1 -t 1 -w 1) as GenOptions. */
function options(flags: string): GenOptions {
  const f = new Map<string, string>();
  const argv = flags.split(' ');
  for (let i = 0; i < argv.length; i++) f.set(argv[i], argv[i + 1] !== undefined && !argv[i + 1].startsWith('-') ? argv[++i] : '');
  const num = (flag: string, def: number): number => (f.has(flag) ? Number(f.get(flag)) : def);
  const bytes = f.has('--key-bytes') || f.has('--value-bytes');
  return {
    count: num('-n', 1000000),
    putPercent: num('-p', 50),
    keys: num('-k', 100000),
    zipf: f.has('-z') ? num('-z', 0) : undefined,
    seed: num('-r', 1),
    threads: num('-t', 1),
    window: num('-w', 1),
    spread: f.has('--spread'),
    keyBytes: bytes ? num('--key-bytes', 16) : undefined,
    valueBytes: bytes ? num('--value-bytes', 100) : undefined,
    delPercent: num('--del', 0),
  };
}

test('generated text is byte for byte what it was before streaming', () => {
  for (const [flags, w, e] of PINNED) {
    const g = generate(options(flags));
    assert.deepEqual([sha(g.workload), sha(g.expected)], [w, e], flags);
  }
});

test('generating in batches of any size gives the text of one go', () => {
  for (const flags of ['-n 3001 -k 500 -t 3 -w 4 -r 2', '-n 2000 -k 300 -t 2 -w 8 --key-bytes 8 --del 20 -r 3']) {
    const whole = generate(options(flags));
    for (const batch of [1, 7, 1000, 1500, 2999]) {
      const w: string[] = [];
      const e: string[] = [];
      const g = new Generation(options(flags));
      let calls = 1;
      while (g.run(batch, { write: (s) => w.push(s) }, { write: (s) => e.push(s) })) calls++;
      assert.equal(w.join(''), whole.workload, `${flags}, batches of ${batch}`);
      assert.equal(e.join(''), whole.expected, `${flags}, batches of ${batch}`);
      assert.equal(calls, Math.max(1, Math.ceil(options(flags).count / batch)), `${flags}: run() calls for batches of ${batch}`);
    }
  }
});
