/**
 * A server process for bench experiments with a non-default wait policy
 * (`run.js --policy SPINS,YIELDS,SLEEP_MS`): the same Server.start as
 * ./server, plus the policy that ./server does not expose as a flag.
 * The bench's reported figures use ./server itself (dist/src/cli/server.js).
 *
 *   node dist/bench/systems/server-child.js PATH THREADS coarse|fine SPINS YIELDS SLEEP_MS
 */
import { Server } from '../../src/server/server';

async function main(): Promise<void> {
  const [file, threads, locking, spins, yields, sleepMs] = process.argv.slice(2);
  const server = await Server.start({
    path: file,
    threads: Number(threads),
    initialBuckets: 1024,
    coarse: locking === 'coarse',
    temporary: true,
    policy: { spins: Number(spins), yields: Number(yields), sleepMs: Number(sleepMs) },
  });
  const stop = (): void => void server.stop();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await server.done;
  await server.stop();
}

main().catch((e) => {
  process.stderr.write(`bench server: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
