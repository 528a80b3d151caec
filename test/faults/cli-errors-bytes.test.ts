/**
 * User mistakes around byte workloads (set/get/del of strings), against the
 * real CLIs as processes: one line on stderr naming file and line, exit 2
 * for usage and 1 for input, and nothing sent to the server.
 */
import { test, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Scope } from '../support/procs';
import { assertOneLineError, assertNoSideEffects } from '../support/cli-asserts';

/** Bad line (line 4, after valid sets and a blank line), and a pattern its message must match besides file:4. */
const MALFORMED_BYTES: Array<[string, string, RegExp]> = [
  ['set without value', 'set k', /needs a KEY and a VALUE/],
  ['get without key', 'get', /needs a KEY/],
  ['del without key', 'del   ', /needs a KEY/],
  ['extra token after get', 'get a b', /unexpected text/],
  ['extra token after set', 'set a b c', /unexpected text/],
  ['extra token after del', 'del a b', /unexpected text/],
  ['unknown op', 'fetch a', /expected 'set KEY VALUE'/],
  ['upper-case verb', 'SET a b', /expected 'set KEY VALUE'/],
  ['verb glued to key', 'geta', /expected 'set KEY VALUE'/],
  ['a put line (mixed forms)', 'put 1 2', /cannot mix/],
  ['key over 4096 bytes', 'get ' + 'x'.repeat(4097), /key of 4097 bytes is over the limit of 4096/],
  ['key over 4096 UTF-8 bytes in 2049 characters', 'get ' + 'é'.repeat(2049), /key of 4098 bytes/],
  ['value over 1 MiB', 'set a ' + 'v'.repeat(1024 * 1024 + 1), /value of 1048577 bytes is over the limit of 1048576/],
  ['control character in a key', 'get a\u0001b', /control character/],
];

describe('client: bad byte workloads give one line naming file and line, exit 1, nothing submitted', () => {
  test('malformed byte lines, invalid UTF-8, and set/del in a u32 file', { timeout: 90_000 }, async (t) => {
    const s = new Scope(t);
    const region = s.p('region');
    const srv = await s.startServer(['-n', '2', '-p', region]);
    const keys: string[] = [];
    for (const [i, [what, bad, re]] of MALFORMED_BYTES.entries()) {
      await t.test(what, async () => {
        const k1 = `a${i}`;
        const k2 = `b${i}`;
        keys.push(k1, k2);
        const file = `bad${i}.txt`;
        s.write(file, `set ${k1} 111\n\nset ${k2} 222\n${bad}\nget ${k1}\n`);
        const r = await s.client(['-n', '1', '-w', '4', '-i', file, '-p', region]);
        const msg = assertOneLineError(r, 'client', 1, what);
        assert.ok(msg.includes(`${file}:4: `), `${what}: message does not name ${file}:4: ${msg}`);
        assert.match(msg, re, what);
        assert.ok(msg.length < 300, `${what}: message too long (${msg.length})`);
      });
    }
    await t.test('invalid UTF-8', async () => {
      keys.push('u1');
      s.write('utf.txt', Buffer.concat([Buffer.from('set u1 1\nget u1\n'), Buffer.from([0x67, 0x65, 0x74, 0x20, 0xc3, 0x28, 0x0a])]));
      const msg = assertOneLineError(await s.client(['-i', 'utf.txt', '-p', region]), 'client', 1, 'invalid UTF-8');
      assert.match(msg, /utf\.txt:3: .*UTF-8/);
    });
    await t.test('set and del in a u32 file', async () => {
      for (const [i, bad] of ['set a b', 'del a'].entries()) {
        s.write(`u${i}.txt`, `put 1 111\nget 1\n${bad}\n`);
        const msg = assertOneLineError(await s.client(['-i', `u${i}.txt`, '-p', region]), 'client', 1, bad);
        assert.match(msg, new RegExp(`u${i}\\.txt:3: .*cannot mix`));
      }
    });
    // None of the sets before a bad line reached the table.
    s.write('q.txt', keys.map((k) => `get ${k}`).join('\n') + '\n');
    const q = await s.client(['-n', '2', '-w', '8', '-i', 'q.txt', '-o', 'q.out', '-p', region, '--direct']);
    assert.equal(q.code, 0, q.stderr);
    assert.equal(s.read('q.out'), '\n'.repeat(keys.length), 'a request from a malformed workload was submitted');
    assert.equal((await srv.stop()).code, 0, srv.stderr);
  });

  test('byte expected files: wrong count or a value with whitespace is one line, exit 1', { timeout: 40_000 }, async (t) => {
    const s = new Scope(t);
    s.write('w.txt', 'set a 1\nget a\n\nget b\n');
    // Blank lines count in byte expected files: "1\n" is one get short, "1\n\n\n" one too many.
    s.write('few.e', '1\n');
    s.write('many.e', '1\n\n\n');
    s.write('space.e', '1\na b\n');
    const before = fs.readdirSync(s.dir).sort();
    const cases: Array<[string, RegExp]> = [
      ['few.e', /few\.e: holds 1 values but the workload has 2 gets/],
      ['many.e', /many\.e: holds 3 values but the workload has 2 gets/],
      ['space.e', /space\.e:2: /],
    ];
    for (const [file, re] of cases) {
      const msg = assertOneLineError(await s.client(['-f', '-i', 'w.txt', '-c', '-e', file, '-p', s.p('region')]), 'client', 1, file);
      assert.match(msg, re);
      assertNoSideEffects(s, before, file);
    }
  });
});

describe('genworkload: byte form flags', () => {
  test('bad --key-bytes/--value-bytes/--del: one line, exit 2 (usage) or 1 (keys do not fit), nothing written', { timeout: 40_000 }, async (t) => {
    const s = new Scope(t);
    const cases: Array<[string, string[], number, RegExp]> = [
      ['--del without the byte form', ['--del', '10'], 2, /--del needs the byte form/],
      ['zero key bytes', ['--key-bytes', '0'], 2, /--key-bytes must be in 1\.\.4096/],
      ['key bytes over the limit', ['--key-bytes', '4097'], 2, /--key-bytes must be in 1\.\.4096/],
      ['non-integer value bytes', ['--value-bytes', 'abc'], 2, /--value-bytes needs an integer/],
      ['value bytes over 1 MiB', ['--value-bytes', '1048577'], 2, /--value-bytes must be in 1\.\.1048576/],
      ['puts and deletes over 100%', ['--key-bytes', '8', '-p', '60', '--del', '50'], 2, /more than 100/],
      ['keys too short for the key space', ['--key-bytes', '3', '-k', '1000'], 1, /--key-bytes 3 is too short for keys up to 999/],
    ];
    for (const [what, args, code, re] of cases) {
      const r = await s.gen(['-n', '100', ...args, '-o', 'w.txt', '-e', 'e.txt']);
      const msg = assertOneLineError(r, 'genworkload', code, what);
      assert.match(msg, re, what);
      assert.deepEqual(fs.readdirSync(s.dir), [], `${what}: wrote files`);
    }
  });
});
