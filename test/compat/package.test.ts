/**
 * The package as a user gets it: `npm pack` the repository, `npm install`
 * the tarball into an empty project on a PATH that holds only node, npm and
 * sh (no g++, cc, make: CC and CXX point at /bin/false too), so the only
 * addon that can work is the committed prebuilt binary. Then, in that
 * project: require() and import() of 'shmkv', a server started through the
 * installed bin, a separate process using the library against it, the other
 * bins, and a strict TypeScript program compiled against the installed
 * .d.ts files (test/fixtures/package/) and run.
 *
 * Nothing is skipped: on a platform or Node ABI without a prebuilt binary
 * this test fails and says to run `make prebuild`.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, RunResult, Scope } from '../support/procs';

const ABI = process.versions.modules;
const TUPLE = `${process.platform}-${process.arch}`;
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'package');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The first executable `name` on this process's PATH. */
function which(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const f = path.join(dir, name);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return f;
    } catch {
      // not here
    }
  }
  throw new Error(`${name} not found on PATH`);
}

/**
 * An environment like a user's shell, minus a toolchain: PATH is one
 * directory of links to node, npm, npx and sh; CC/CXX fail if anything
 * tries them by name; and the npm_* variables of the `npm test` running us
 * are dropped, so the inner npm reads only its normal configuration.
 */
function userEnv(binDir: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { PATH: binDir, CC: '/bin/false', CXX: '/bin/false', SHMKV_DATA_DIR: undefined };
  for (const k of Object.keys(process.env)) if (/^npm_/i.test(k)) env[k] = undefined;
  return env;
}

function ok(r: RunResult, what: string): string {
  assert.ok(!r.timedOut, `${what} timed out; stderr:\n${r.stderr}`);
  assert.equal(r.code, 0, `${what} exited ${r.code ?? r.signal}; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r.stdout;
}

function lastJson(out: string): Record<string, unknown> {
  const lines = out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

test('the packed tarball installs and works without a C++ toolchain (prebuilt addon), as CommonJS, ESM, bins and strict TypeScript', { timeout: 300_000 }, async (t) => {
  // The committed binary must exist for this Node and match the sources.
  const prebuildDir = path.join(ROOT, 'prebuilds', TUPLE);
  const prebuilt = fs.existsSync(prebuildDir) ? fs.readdirSync(prebuildDir).filter((f) => f.endsWith(`.abi${ABI}.node`)) : [];
  assert.equal(prebuilt.length, 1, `one prebuilt binary for ${TUPLE} Node ABI ${ABI} (Node ${process.version}) in ${prebuildDir}: run 'make prebuild'`);
  for (const line of fs.readFileSync(path.join(prebuildDir, 'sources.sha256'), 'utf8').trim().split('\n')) {
    const [sum, file] = line.split(/\s+/);
    const now = crypto.createHash('sha256').update(fs.readFileSync(path.join(ROOT, file!))).digest('hex');
    assert.equal(now, sum, `${file} changed since the prebuilt binary was made: run 'make prebuild' and commit prebuilds/`);
  }

  const s = new Scope(t, 'shmkv-pkg-');
  const bin = s.p('bin');
  fs.mkdirSync(bin);
  for (const [name, target] of [
    ['node', process.execPath],
    ['npm', which('npm')],
    ['npx', which('npx')],
    ['sh', '/bin/sh'],
  ] as const) {
    fs.symlinkSync(target, path.join(bin, name));
  }
  const env = userEnv(bin);

  // Pack: the tarball holds what an installed package needs, and no more.
  const packed = JSON.parse(ok(await s.run(which('npm'), ['pack', '--json', '--pack-destination', s.dir, ROOT], { env: { ...env, PATH: process.env.PATH }, timeoutMs: 120_000 }), 'npm pack')) as {
    filename: string;
    size: number;
    files: { path: string }[];
  }[];
  const files = packed[0]!.files.map((f) => f.path);
  for (const need of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/native/shim.js', 'dist/src/cli/server.js', `prebuilds/${TUPLE}/${prebuilt[0]}`, 'native/shm.cc', 'binding.gyp', 'server', 'client', 'stat', 'genworkload', 'package.json', 'README.md']) {
    assert.ok(files.includes(need), `the tarball has ${need}`);
  }
  const unwanted = files.filter((f) => /^(dist\/(test|bench|examples|tools)|test|bench|build|src|docs)\//.test(f) || (f.endsWith('.json') && f !== 'package.json'));
  assert.deepEqual(unwanted, [], 'no tests, sources, benchmarks, build output or result files in the tarball');
  assert.ok(packed[0]!.size < 1 << 20, `tarball is small (${packed[0]!.size} bytes)`);
  const tarball = path.join(s.dir, packed[0]!.filename);

  // Install into an empty project with the compiler out of reach. The
  // dependencies (msgpackr, node-gyp-build) come from npm's cache when it has
  // them, else from the registry.
  const proj = s.p('project');
  fs.mkdirSync(proj);
  fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'user-app', version: '1.0.0', private: true }));
  for (const tool of ['g++', 'c++', 'cc', 'gcc', 'make']) {
    assert.ok(!fs.existsSync(path.join(bin, tool)), `${tool} hidden`);
  }
  const installed = await s.run(path.join(bin, 'npm'), ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'], { cwd: proj, env, timeoutMs: 180_000 });
  ok(installed, 'npm install of the tarball');
  const pkgDir = path.join(proj, 'node_modules', 'shmkv');
  assert.ok(!fs.existsSync(path.join(pkgDir, 'build')), `the install script built nothing: the prebuilt binary loaded\n${installed.stdout}${installed.stderr}`);
  const run = (cmd: string, args: string[], what: string, timeoutMs = 60_000): Promise<string> =>
    s.run(cmd, args, { cwd: proj, env, timeoutMs }).then((r) => ok(r, what));

  // The addon node-gyp-build picks there is the prebuilt one.
  const resolved = await run(path.join(bin, 'node'), ['-p', "require('node-gyp-build').resolve(require('path').dirname(require.resolve('shmkv/package.json')))"], 'node-gyp-build resolve');
  assert.equal(resolved.trim(), path.join(fs.realpathSync(pkgDir), 'prebuilds', TUPLE, prebuilt[0]!));

  // require() and import() see the same exports.
  const cjs = JSON.parse(await run(path.join(bin, 'node'), ['-p', "JSON.stringify(Object.keys(require('shmkv')).sort())"], 'require')) as string[];
  const esm = JSON.parse(
    await run(path.join(bin, 'node'), ['--input-type=module', '-e', "import('shmkv').then((m) => console.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default').sort())))"], 'import()'),
  ) as string[];
  assert.ok(cjs.includes('connect') && cjs.includes('Server') && cjs.includes('RegionError'), `CommonJS exports: ${cjs.join(' ')}`);
  assert.deepEqual(esm.filter((k) => k !== '__esModule'), cjs.filter((k) => k !== '__esModule'), 'ESM named exports = CommonJS exports');

  // A missing addon is one clear line, not node-gyp-build's multi-line dump.
  const broken = await s.run(path.join(bin, 'node'), ['-e', "require('shmkv')"], { cwd: proj, env: { ...env, SHMKV_PREBUILD: s.p('nowhere') }, timeoutMs: 30_000 });
  assert.notEqual(broken.code, 0);
  assert.match(broken.stderr, /^Error: native addon not found in .*Node ABI \d+ .*'npm rebuild shmkv'.*\(needs g\+\+, make, python3\)$/m);

  // The user's TypeScript, compiled strict against the installed .d.ts files
  // (no skipLibCheck: the published declarations are checked too). Node's
  // types come from this repository, as a user would install @types/node.
  for (const f of ['consumer.ts', 'consumer-esm.mts']) fs.copyFileSync(path.join(FIXTURE, f), path.join(proj, f));
  fs.writeFileSync(
    path.join(proj, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'ES2022',
        lib: ['ES2022'],
        module: 'node16',
        moduleResolution: 'node16',
        types: ['node'],
        typeRoots: [path.join(ROOT, 'node_modules', '@types')],
        outDir: 'out',
        rootDir: '.',
      },
      files: ['consumer.ts', 'consumer-esm.mts'],
    }),
  );
  await run(path.join(bin, 'node'), [TSC, '-p', 'tsconfig.json'], 'tsc (strict) against the installed types', 120_000);

  // A server through the installed bin; clients in other processes.
  const data = s.p('data');
  fs.mkdirSync(data);
  const srv = await s.startServer(['-p', 'region', '-n', '1', '--data-dir', data], { cwd: proj, env, bin: path.join(proj, 'node_modules', '.bin', 'shmkv-server'), timeoutMs: 60_000 });
  const region = path.join(proj, 'region');

  const used = lastJson(await run(path.join(bin, 'node'), ['out/consumer.js', region, s.p('own-region'), data], 'the compiled TypeScript consumer'));
  assert.deepEqual(used, {
    stored: true,
    got: { name: 'Ada', roles: ['admin'] },
    ttlPositive: true,
    first: 'loaded page:/',
    second: 'loaded page:/',
    loads: 1,
    counter: 2,
    // The consumer's four keys and five writes, plus the table's shared
    // record list (a key, created by one write: the first object stored).
    keys: 5,
    sets: 6,
    ownValue: 'forty-two',
    missing: 'RegionError',
    errorsAreErrors: true,
    constants: { window: 32, encoding: 'msgpack', region: 'shmem_file', maxKeyBytes: 4096 },
  });
  const viaEsm = lastJson(await run(path.join(bin, 'node'), ['out/consumer-esm.mjs'], 'the compiled ESM consumer'));
  assert.deepEqual(viaEsm, { connect: 'function', start: 'function', regionError: 'function', stats: 2, same: true });

  // The other bins: counters as JSON, and a checked replay.
  const stat = lastJson(await run(path.join(proj, 'node_modules', '.bin', 'shmkv-stat'), ['-p', 'region', '--json'], 'shmkv-stat'));
  assert.equal(stat.keys, 5, `stat (the consumer's four keys and the shared record list): ${JSON.stringify(stat)}`);
  assert.equal(stat.sets, 6);
  assert.equal(stat.serverThreads, 1);
  await run(path.join(proj, 'node_modules', '.bin', 'shmkv-genworkload'), ['-n', '2000', '-k', '100', '-o', 'w.txt', '-e', 'w.expected'], 'shmkv-genworkload');
  const replay = await run(path.join(proj, 'node_modules', '.bin', 'shmkv-client'), ['-p', 'region', '-i', 'w.txt', '-c', '-e', 'w.expected'], 'shmkv-client');
  assert.match(replay, /^Throughput: /m);

  const stopped = await srv.stop('SIGTERM', 30_000);
  assert.equal(stopped.code, 0, `server stopped cleanly; stderr:\n${srv.stderr}`);
  assert.equal(stopped.timedOut, false);
});
