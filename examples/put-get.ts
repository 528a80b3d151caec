/**
 * The smallest use of the library: connect to a running server, set and get
 * strings, bytes, numbers and objects.
 *
 *   ./server -n 2 -s 1024 &          # in one terminal (or as a service)
 *   node dist/examples/put-get.js    # region path: ./shmem_file or $SHMKV_PATH
 */
import { connect } from '../src/index';

async function main(): Promise<void> {
  const kv = connect({ path: process.env.SHMKV_PATH ?? 'shmem_file' });

  // Synchronous: reads come straight from the shared table; writes block
  // this thread for the round trip to a server thread.
  kv.setSync('user:1', 'Ada');
  console.log("getSync('user:1') =", kv.getSync('user:1')); // 'Ada'
  console.log("getSync('user:2') =", kv.getSync('user:2')); // undefined: absent

  // Any structured value (v8 serialization by default: Date, Map, Set, bigint...).
  kv.setSync('session:9', { user: 1, since: new Date(0), roles: new Set(['admin']) });
  console.log("getSync('session:9') =", kv.getSync('session:9'));

  // Bytes stay bytes; 1, '1' and the bytes of '1' are three different keys.
  kv.setSync(Buffer.from('raw'), Buffer.from([1, 2, 3]));
  kv.setSync(1, 100);
  console.log('getSync(1) =', kv.getSync(1), "getSync('1') =", kv.getSync('1')); // 100 undefined

  // Promises: writes pipeline up to `window` (default 32) in flight, event loop free.
  await kv.set('greeting', 'hello');
  console.log("get('greeting') =", await kv.get('greeting'));
  await kv.setMany([['a', 1], ['b', 'two'], ['c', [3]]]);
  console.log('getMany =', await kv.getMany(['a', 'b', 'c', 'd'])); // [1, 'two', [3], undefined]
  console.log("delete('a') =", await kv.delete('a'), "has('a') =", await kv.has('a')); // true false

  // Counters: atomic read-modify-write on the server (u32 keys and values).
  console.log('incr =', await kv.incr(7), kv.incrSync(7, 5)); // 1 6

  await kv.close(); // releases this client's windows
}

main().catch((e: Error) => {
  console.error(`put-get: ${e.message}`);
  process.exitCode = 1;
});
