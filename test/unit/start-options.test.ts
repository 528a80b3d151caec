// connect({ start: true, server }) spawns ./server with flags (client/start.ts
// serverArgs); ./server reads them back into ServerOptions
// (cli/server-spec.ts). Every option must survive the trip with its value.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { serverArgs, START_FLAGS, StartOptions } from '../../src/client/start';
import { parse } from '../../src/cli/args';
import { SERVER_SPEC, serverOptionsOf } from '../../src/cli/server-spec';
import type { ServerOptions } from '../../src/server/server-options';

const MiB = 1024 * 1024;
/** A value for every option start: true passes, each unlike ./server's default. */
const SAMPLE: Required<Omit<StartOptions, 'log'>> = {
  threads: 3,
  initialBuckets: 4096,
  windows: 512,
  ringCapacity: 2048,
  maxTableBytes: 64 * MiB,
  maxKeyBytes: 100,
  maxValueBytes: 5000,
  defaultTtlMs: 7000,
  dataDir: '/tmp/somewhere',
  eviction: 'clock',
  coarse: true,
};
type Key = keyof typeof SAMPLE;

const readBack = (o: StartOptions): ServerOptions => serverOptionsOf(parse(SERVER_SPEC, serverArgs(o)), '/region');

test('start: true passes every server option as a flag that ./server reads back to the same value, alone and all together', () => {
  assert.deepEqual(Object.keys(SAMPLE).sort(), Object.keys(START_FLAGS).sort(), 'the sample names every option start: true passes');
  const defaults = serverOptionsOf(parse(SERVER_SPEC, []), '/region');
  const all = readBack({ ...SAMPLE, log: '/tmp/x.log' });
  for (const k of Object.keys(SAMPLE) as Key[]) {
    assert.notDeepEqual(defaults[k], SAMPLE[k], `${k}: the sample must differ from the default, or a lost flag would go unseen`);
    assert.deepEqual(all[k], SAMPLE[k], `${k}, all options given`);
    const alone = readBack({ [k]: SAMPLE[k] });
    assert.deepEqual(alone[k], SAMPLE[k], `${k}, given alone`);
    for (const other of Object.keys(SAMPLE) as Key[]) if (other !== k) assert.deepEqual(alone[other], defaults[other], `${k} given alone leaves ${other} at its default`);
  }
  assert.deepEqual(serverArgs({}), [], 'no options, no flags');
  assert.deepEqual(serverArgs({ coarse: false }), [], 'a false boolean is no flag');
});

test('start: true refuses a bad server option in one TypeError or RangeError naming it', () => {
  const cases: Array<[unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    [null, TypeError, /server options must be an object/],
    [7, TypeError, /server options must be an object/],
    [{ bogus: 1 }, TypeError, /unknown server option "bogus"/],
    [{ threads: 1.5 }, RangeError, /server\.threads must be a non-negative integer/],
    [{ windows: -1 }, RangeError, /server\.windows must be a non-negative integer/],
    [{ maxTableBytes: 1000 }, RangeError, /server\.maxTableBytes must be a positive whole number of MiB/],
    [{ maxTableBytes: 0 }, RangeError, /server\.maxTableBytes must be a positive whole number of MiB/],
    [{ dataDir: '' }, TypeError, /server\.dataDir must be a non-empty string/],
    [{ eviction: 3 }, TypeError, /server\.eviction must be a non-empty string/],
    [{ coarse: 'yes' }, TypeError, /server\.coarse must be a boolean/],
    [{ log: '' }, TypeError, /server\.log must be a file path/],
  ];
  for (const [o, type, message] of cases)
    assert.throws(
      () => serverArgs(o as StartOptions),
      (e: Error) => e instanceof type && message.test(e.message) && !e.message.includes('\n'),
      JSON.stringify(o),
    );
});
