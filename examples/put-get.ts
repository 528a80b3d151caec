/**
 * The smallest use of the library: connect to a running server, put and get.
 *
 *   ./server -n 2 -s 1024 &          # in one terminal (or as a service)
 *   node dist/examples/put-get.js    # region path: ./shmem_file or $SHMKV_PATH
 */
import { connect } from '../src/index';

async function main(): Promise<void> {
  const kv = connect({ path: process.env.SHMKV_PATH ?? 'shmem_file' });

  // Synchronous: lowest latency, blocks this thread for the round trip.
  kv.putSync(1, 100);
  console.log('getSync(1) =', kv.getSync(1)); // 100
  console.log('getSync(2) =', kv.getSync(2)); // undefined: absent

  // Promises: up to `window` (default 32) requests in flight, event loop free.
  await kv.put(2, 200);
  console.log('get(2) =', await kv.get(2)); // 200

  // Batches pipeline through the window.
  await kv.putMany([[10, 1], [11, 2], [12, 3]]);
  console.log('getMany =', await kv.getMany([10, 11, 12, 13])); // [1, 2, 3, undefined]

  // Counters: atomic read-modify-write on the server.
  console.log('incr =', await kv.incr(7), kv.incrSync(7, 5)); // 1 6

  await kv.close(); // releases this client's windows
}

main().catch((e: Error) => {
  console.error(`put-get: ${e.message}`);
  process.exitCode = 1;
});
