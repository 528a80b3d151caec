/**
 * A private redis-server for the bench: Debian's redis-server binary
 * (installed with apt-get only when missing, and the bench says so),
 * listening only on a unix socket in a temp dir (no TCP port), with
 * persistence off (no RDB snapshots, no AOF). Stopped at the end.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';

export interface RedisHandle {
  socket: string;
  pid: number;
  version: string;
  /** How the binary came to be there (found, or installed by this run). */
  provenance: string;
  stop(): Promise<void>;
}

function findBinary(): string | null {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':').concat(['/usr/bin', '/usr/sbin', '/usr/local/bin'])) {
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

/**
 * Find redis-server or install Debian's package with apt-get. Returns the
 * binary's path and how it got there, or throws with the reason.
 */
export function ensureRedisBinary(log: (s: string) => void): { bin: string; provenance: string } {
  const found = findBinary();
  if (found) return { bin: found, provenance: `found ${found}` };
  log('bench: redis-server is not installed: installing Debian\'s redis-server with apt-get (needed only for the Redis comparison)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]): boolean => spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env }).status === 0;
  const install = ['install', '-y', '--no-install-recommends', 'redis-server'];
  if (!apt(install)) {
    log('bench: apt-get install failed; running apt-get update and trying once more');
    if (!apt(['update']) || !apt(install)) throw new Error('could not install redis-server with apt-get');
  }
  const bin = findBinary();
  if (!bin) throw new Error('apt-get installed redis-server but no redis-server binary is on PATH');
  log(`bench: installed redis-server (${bin}) with apt-get`);
  return { bin, provenance: `installed by this run with apt-get (${bin})` };
}

/**
 * `dir`: the server's working directory, where BGSAVE writes dump.rdb and a
 * start loads it from (kept at stop); default a temp dir, removed at stop.
 */
export async function startRedis(bin: string, provenance: string, dir?: string): Promise<RedisHandle> {
  const own = dir === undefined;
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-bench-redis-'));
  const socket = path.join(dir, 'redis.sock');
  const args = [
    '--port', '0', // no TCP listener at all
    '--unixsocket', socket,
    '--unixsocketperm', '700',
    '--save', '', // no RDB snapshots
    '--appendonly', 'no',
    '--dir', dir,
    '--daemonize', 'no',
    '--protected-mode', 'no',
    '--loglevel', 'warning',
    '--logfile', path.join(dir, 'redis.log'),
  ];
  const child: ChildProcess = spawn(bin, args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => (dead = true));
  // Loading a big dump.rdb takes a while: the socket answers LOADING meanwhile.
  const deadline = Date.now() + 600_000;
  let version = '?';
  for (;;) {
    if (dead) throw new Error(`redis-server exited at start (see ${path.join(dir, 'redis.log')})`);
    if (fs.existsSync(socket)) {
      // No ready check: ioredis would wait out Redis's loading ETA itself (seconds), where this loop polls every 50 ms.
      const r = new Redis({ path: socket, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await r.connect();
        const info = await r.info();
        if (/^loading:1/m.test(info)) throw new Error('loading');
        version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
        r.disconnect();
        break;
      } catch {
        r.disconnect();
      }
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('redis-server did not answer on its socket within 600 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    socket,
    pid: child.pid ?? 0,
    version,
    provenance,
    async stop(): Promise<void> {
      if (!dead) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (own) fs.rmSync(dir, { recursive: true, force: true });
      else fs.rmSync(socket, { force: true });
    },
  };
}
