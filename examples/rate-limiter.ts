/**
 * A fixed-window rate limiter shared by every process of the machine, on
 * the store's atomic operations: the window's counter is created with a
 * time to live if absent (SET NX), then incremented (INCRBY); the count
 * decides. A process that dies mid-window leaves nothing behind: the
 * counter expires with its window.
 *
 *   ./server -n 2 &
 *   node dist/examples/rate-limiter.js     # 15 requests of one client against a limit of 10 per second
 */
import { connect, Client } from '../src/index';

export class RateLimiter {
  constructor(
    private readonly kv: Client,
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Count one hit of `who`; whether it is within the limit, and the hits so far in this window. */
  async hit(who: string): Promise<{ allowed: boolean; count: number }> {
    const window = Math.floor(this.now() / this.windowMs);
    const key = `rate:${who}:${window}`;
    await this.kv.set(key, 0, { ifAbsent: true, ttl: this.windowMs * 2 });
    const count = await this.kv.incr(key);
    return { allowed: count <= this.limit, count };
  }
}

async function main(): Promise<void> {
  const kv = connect({ path: process.env.SHMKV_PATH ?? 'shmem_file' });
  const limiter = new RateLimiter(kv, 10, 1000);
  let allowed = 0;
  for (let i = 0; i < 15; i++) if ((await limiter.hit('client-42')).allowed) allowed++;
  console.log(`allowed ${allowed} of 15 (limit 10 per second)`);
  await kv.close();
}

if (require.main === module)
  main().catch((e: Error) => {
    console.error(`rate-limiter: ${e.message}`);
    process.exitCode = 1;
  });
