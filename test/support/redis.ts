/**
 * A private redis-server for a test: Debian's binary, listening only on a
 * unix socket in a fresh temp dir (no TCP port, so tests never collide with
 * each other or with a system Redis), persistence off. startRedis() throws
 * when it cannot start one: tests that need Redis fail, never skip (.ci/run
 * installs redis-server when it is missing).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { HasAfter } from './procs';

export interface TestRedis {
  socket: string;
  pid: number;
  /** A new ioredis client on the socket (closed by stop()). */
  client(): Redis;
  stop(): Promise<void>;
}

export function findRedisServer(): string | null {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin', '/usr/local/bin']);
  for (const dir of dirs) {
    const p = path.join(dir, 'redis-server');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** Start redis-server and wait (up to timeoutMs) until it answers PING; stopped by t.after when `t` is given. */
export async function startRedis(t?: HasAfter, timeoutMs = 15_000): Promise<TestRedis> {
  const bin = findRedisServer();
  if (!bin) throw new Error('redis-server is not installed: apt-get install -y redis-server (.ci/run does it)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-test-redis-'));
  const socket = path.join(dir, 'redis.sock');
  const log = path.join(dir, 'redis.log');
  const child = spawn(
    bin,
    ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning', '--logfile', log],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => (dead = true));
  const clients: Redis[] = [];
  const handle: TestRedis = {
    socket,
    pid: child.pid ?? 0,
    client(): Redis {
      const r = new Redis({ path: socket, maxRetriesPerRequest: 1 });
      clients.push(r);
      return r;
    },
    async stop(): Promise<void> {
      for (const c of clients) c.disconnect();
      if (!dead) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  if (t) t.after(() => handle.stop());
  const readLog = (): string => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim() : '');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (dead) throw new Error(`redis-server exited at start: ${readLog()}`);
    if (fs.existsSync(socket)) {
      const probe = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return handle;
      } catch {
        // not accepting yet
      } finally {
        probe.disconnect();
      }
    }
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`redis-server did not answer on ${socket} within ${timeoutMs} ms: ${readLog()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
