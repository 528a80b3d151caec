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
 * this test fails and says to run `make prebuild`. The same file is the
 * smoke run on Node 22, 24 and 26 (tools/smoke.sh, .ci/run): it then also
 * runs the installed Keyv store under Keyv 6.
 *
 * A second test plays a musl machine (LIBC=musl: node-gyp-build and the
 * install script then skip the glibc-tagged binaries): without a compiler
 * the install fails with one line, require and the bins fail with one
 * line; with one, `npm rebuild` compiles the addon and it loads.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, RunResult, Scope } from '../support/procs';

const ABI = process.versions.modules;
const TUPLE = `${process.platform}-${process.arch}`;
/** tools/node-versions.txt: [version, ABI] of every Node the package ships a binary for. */
const RELEASES = fs
  .readFileSync(path.join(ROOT, 'tools', 'node-versions.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'))
  .map((l) => l.trim().split(/\s+/) as [string, string]);
const PREBUILT = (abi: string): string => `shmkv.abi${abi}.glibc.node`;
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
  // PREBUILDS_ONLY (make test-node) and SHMKV_PREBUILD are the repository's, not a user's.
  const env: Record<string, string | undefined> = { PATH: binDir, CC: '/bin/false', CXX: '/bin/false', SHMKV_DATA_DIR: undefined, PREBUILDS_ONLY: undefined, SHMKV_PREBUILD: undefined };
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

/** Every prebuilt binary is there, for every Node of tools/node-versions.txt, and made from today's sources. */
function checkPrebuilds(): void {
  const dir = path.join(ROOT, 'prebuilds', TUPLE);
  const have = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')).sort() : [];
  assert.deepEqual(have, RELEASES.map(([, abi]) => PREBUILT(abi)).sort(), `prebuilt binaries in ${dir}, one per line of tools/node-versions.txt: run 'make prebuild'`);
  assert.ok(
    RELEASES.some(([, abi]) => abi === ABI),
    `this Node (${process.version}, ABI ${ABI}) is one of tools/node-versions.txt's: ${RELEASES.map(([v]) => v).join(' ')}`,
  );
  // make prebuild records the sources and the binaries it made from them, together.
  const recorded = new Map(
    fs
      .readFileSync(path.join(dir, 'sources.sha256'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/).reverse() as [string, string]),
  );
  const expected = ['native/shm.cc', 'binding.gyp', ...have.map((f) => `prebuilds/${TUPLE}/${f}`)];
  assert.deepEqual([...recorded.keys()].sort(), expected.sort(), 'sources.sha256 lists the sources and every binary made from them');
  for (const [file, sum] of recorded) {
    const now = crypto.createHash('sha256').update(fs.readFileSync(path.join(ROOT, file))).digest('hex');
    assert.equal(now, sum, `${file} changed since make prebuild built the binaries from the sources: run 'make prebuild' and commit prebuilds/`);
  }
}

/** A directory of links to node, npm, npx and sh (and to `extra`), the whole PATH of the user's shell. */
function userBin(s: Scope, name: string, extra: string[] = []): string {
  const bin = s.p(name);
  fs.mkdirSync(bin);
  for (const [tool, target] of [['node', process.execPath], ['npm', which('npm')], ['npx', which('npx')], ['sh', '/bin/sh'], ...extra.map((t) => [t, which(t)])] as const) {
    fs.symlinkSync(target, path.join(bin, tool));
  }
  return bin;
}

/** `npm pack` the repository into s.dir; its file list and the tarball's path. */
async function pack(s: Scope, env: Record<string, string | undefined>): Promise<{ files: string[]; size: number; tarball: string }> {
  const packed = JSON.parse(ok(await s.run(which('npm'), ['pack', '--json', '--ignore-scripts', '--pack-destination', s.dir, ROOT], { env: { ...env, PATH: process.env.PATH }, timeoutMs: 120_000 }), 'npm pack')) as {
    filename: string;
    size: number;
    files: { path: string }[];
  }[];
  return { files: packed[0]!.files.map((f) => f.path), size: packed[0]!.size, tarball: path.join(s.dir, packed[0]!.filename) };
}

/** An empty project directory with a package.json. */
function project(s: Scope, name: string): string {
  const proj = s.p(name);
  fs.mkdirSync(proj);
  fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'user-app', version: '1.0.0', private: true }));
  return proj;
}

/** The Keyv line to run the installed store under: 6 where Node >= 22.19 (its engines), else 5. */
function keyvLine(): { name: string; version: string } {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  const dir = major > 22 || (major === 22 && minor >= 19) ? 'keyv6' : 'keyv';
  return { name: 'keyv', version: (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', dir, 'package.json'), 'utf8')) as { version: string }).version };
}

test('the packed tarball installs and works without a C++ toolchain (prebuilt addon), as CommonJS, ESM, bins, strict TypeScript and a Keyv store', { timeout: 300_000 }, async (t) => {
  // The committed binaries must exist for every Node and match the sources.
  checkPrebuilds();
  const prebuilt = [PREBUILT(ABI)];
  const prebuildFiles = RELEASES.map(([, abi]) => `prebuilds/${TUPLE}/${PREBUILT(abi)}`);

  const s = new Scope(t, 'shmkv-pkg-');
  const bin = userBin(s, 'bin');
  const env = userEnv(bin);

  // Pack: the tarball holds what an installed package needs, and no more.
  const { files, size, tarball } = await pack(s, env);
  for (const need of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/native/shim.js', 'dist/src/cli/server.js', ...prebuildFiles, 'native/shm.cc', 'native/install.js', 'binding.gyp', 'server', 'client', 'stat', 'genworkload', 'package.json', 'README.md']) {
    assert.ok(files.includes(need), `the tarball has ${need}`);
  }
  const unwanted = files.filter((f) => /^(dist\/(test|bench|examples|tools)|test|bench|build|src|docs|tools)\//.test(f) || (f.endsWith('.json') && f !== 'package.json'));
  assert.deepEqual(unwanted, [], 'no tests, sources, benchmarks, build output or result files in the tarball');
  assert.ok(size < 1 << 20, `tarball is small (${size} bytes)`);

  // Install into an empty project with the compiler out of reach. The
  // dependencies (msgpackr, node-gyp-build) come from npm's cache when it has
  // them, else from the registry.
  const proj = project(s, 'project');
  for (const tool of ['g++', 'c++', 'cc', 'gcc', 'make']) {
    assert.ok(!fs.existsSync(path.join(bin, tool)), `${tool} hidden`);
  }
  const installed = await s.run(path.join(bin, 'npm'), ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'], { cwd: proj, env, timeoutMs: 180_000 });
  ok(installed, 'npm install of the tarball');
  const pkgDir = path.join(proj, 'node_modules', 'shmkv');
  assert.ok(!fs.existsSync(path.join(pkgDir, 'build')), `the install script built nothing: the prebuilt binary loaded\n${installed.stdout}${installed.stderr}`);
  assert.doesNotMatch(installed.stdout + installed.stderr, /shmkv: /, 'the install script said nothing: there was nothing to say');

  // What npm reads from the installed package.json: one declaration of each field.
  const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(manifest.peerDependencies!).sort(), ['ioredis', 'keyv'], 'both optional peers are declared');
  assert.deepEqual(manifest.peerDependenciesMeta, { ioredis: { optional: true }, keyv: { optional: true } });
  const raw = fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8');
  for (const field of ['peerDependencies', 'peerDependenciesMeta', 'dependencies', 'scripts', 'engines']) {
    assert.equal(raw.split(`"${field}":`).length - 1, 1, `package.json declares "${field}" once (JSON keeps only the last)`);
  }
  const engines = String(manifest.engines!.node).split('||').map((r) => Number(/\^?(\d+)/.exec(r.trim())![1]));
  assert.deepEqual(engines, RELEASES.map(([v]) => Number(v.split('.')[0])), `engines.node lists the tested Node lines: ${String(manifest.engines!.node)}`);
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
  // Node 24+ adds 'module.exports' to the ESM namespace of every CommonJS module.
  const notExports = new Set(['__esModule', 'module.exports']);
  assert.deepEqual(esm.filter((k) => !notExports.has(k)), cjs.filter((k) => !notExports.has(k)), 'ESM named exports = CommonJS exports');

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

  // The Keyv store, as a user of this Node's Keyv line installs and uses it.
  const keyv = keyvLine();
  ok(await s.run(path.join(bin, 'npm'), ['install', `${keyv.name}@${keyv.version}`, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: proj, env, timeoutMs: 120_000 }), `npm install keyv@${keyv.version}`);
  fs.writeFileSync(
    path.join(proj, 'keyv-store.cjs'),
    `const Keyv = require('keyv').Keyv ?? require('keyv');
const { KeyvShmkv } = require('shmkv/keyv');
(async () => {
  const keyv = new Keyv({ store: new KeyvShmkv({ path: process.argv[2] }), namespace: 'smoke' });
  await keyv.set('a', { n: 1 }, 60000);
  await keyv.set('b', 'two');
  const got = [await keyv.get('a'), await keyv.get('b'), await keyv.get('nothing')];
  const keys = [];
  for await (const [k] of keyv.iterator()) keys.push(k);
  await keyv.clear();
  const cleared = await keyv.get('a');
  await keyv.disconnect();
  const version = JSON.parse(require('fs').readFileSync(require('path').join('node_modules', 'keyv', 'package.json'), 'utf8')).version;
  console.log(JSON.stringify({ version, got, keys: keys.sort(), cleared: cleared === undefined }));
})();
`,
  );
  const viaKeyv = lastJson(await run(path.join(bin, 'node'), ['keyv-store.cjs', region], 'the Keyv store'));
  assert.deepEqual(viaKeyv, { version: keyv.version, got: [{ n: 1 }, 'two', null], keys: ['a', 'b'], cleared: true }, `Keyv ${keyv.version} over the installed store`);

  const stopped = await srv.stop('SIGTERM', 30_000);
  assert.equal(stopped.code, 0, `server stopped cleanly; stderr:\n${srv.stderr}`);
  assert.equal(stopped.timedOut, false);
});

test('without a prebuilt binary for the platform (musl, played with LIBC=musl): one line from the install, require and the bins; npm rebuild compiles the addon where a compiler is', { timeout: 400_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-musl-');
  const bin = userBin(s, 'bin');
  // node-gyp-build and the install script read LIBC: the glibc-tagged binaries no longer fit.
  const env = { ...userEnv(bin), LIBC: 'musl' };
  const { tarball } = await pack(s, env);
  const proj = project(s, 'project');
  const here = `Node ${process.version.replace(/\./g, '\\.')} \\(ABI ${ABI}\\) on ${TUPLE} musl`;

  // No compiler: the install fails, and says why in one line of its own
  // (node-gyp's output is in the log file it names, not on the screen).
  const failed = await s.run(path.join(bin, 'npm'), ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: proj, env, timeoutMs: 180_000 });
  const said = failed.stdout + failed.stderr;
  assert.notEqual(failed.code, 0, `the install failed\n${said}`);
  assert.doesNotMatch(said, /gyp (ERR!|info)/, 'no node-gyp output on the screen');
  const line = new RegExp(`shmkv: cannot install on ${here}: no prebuilt addon fits and compiling one failed \\(no (C\\+\\+ toolchain|python3)[^;]*; log: (\\S+)\\)\\. Install g\\+\\+, make and python3, then run 'npm rebuild shmkv'; or use what needs no compiler \\(linux-x64 glibc with Node 20, 22, 24, 26\\)\\.$`, 'm');
  const m = line.exec(said);
  assert.ok(m, `the install's one line:\n${said}`);
  assert.match(fs.readFileSync(m[2]!, 'utf8'), /gyp/, 'the log holds what node-gyp printed');
  fs.rmSync(m[2]!);

  // Installed with --ignore-scripts: require and the bins fail in one line, no trace.
  ok(await s.run(path.join(bin, 'npm'), ['install', tarball, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: proj, env, timeoutMs: 180_000 }), 'npm install --ignore-scripts');
  const required = await s.run(path.join(bin, 'node'), ['-e', "require('shmkv')"], { cwd: proj, env, timeoutMs: 30_000 });
  assert.equal(required.code, 1);
  assert.match(required.stderr, new RegExp(`AddonError: no native addon for ${here} in \\S+ \\(prebuilt: linux-x64 glibc with Node 20, 22, 24, 26\\): run 'npm rebuild shmkv' to compile one \\(needs g\\+\\+, make and python3\\)`));
  assert.doesNotMatch(required.stderr, /^\s+at |\[cause\]|No native build/m, `no stack trace, no cause:\n${required.stderr}`);
  for (const [name, args] of [['server', ['-p', 'region']], ['client', ['-p', 'region']], ['stat', ['-p', 'region']]] as const) {
    const r = await s.run(path.join(proj, 'node_modules', '.bin', `shmkv-${name}`), [...args], { cwd: proj, env, timeoutMs: 30_000 });
    assert.equal(r.code, 1, `shmkv-${name} exits 1`);
    assert.match(r.stderr, new RegExp(`^${name}: no native addon for ${here} .*'npm rebuild shmkv'.*\\n$`), `shmkv-${name}: one line`);
    assert.equal(r.stderr.split('\n').length, 2, `shmkv-${name}: one line:\n${r.stderr}`);
  }

  // With a compiler (the whole PATH) and this Node's headers: npm rebuild
  // compiles native/shm.cc, and the package works on that build.
  const nodedir = path.resolve(process.execPath, '..', '..');
  assert.ok(fs.existsSync(path.join(nodedir, 'include', 'node', 'node.h')), `this Node's headers in ${nodedir}/include/node`);
  const full = { ...env, PATH: process.env.PATH, CC: undefined, CXX: undefined, npm_config_nodedir: nodedir };
  const rebuilt = await s.run(path.join(bin, 'npm'), ['rebuild', 'shmkv', '--foreground-scripts'], { cwd: proj, env: full, timeoutMs: 300_000 });
  ok(rebuilt, 'npm rebuild shmkv with a compiler');
  assert.match(rebuilt.stderr, new RegExp(`shmkv: no prebuilt addon for ${here} \\(prebuilt: linux-x64 glibc with Node 20, 22, 24, 26\\): compiling native/shm.cc with node-gyp`));
  assert.match(rebuilt.stderr, new RegExp(`shmkv: compiled the addon for ${here} \\(build/Release/shm.node\\)`));
  const resolved = ok(await s.run(path.join(bin, 'node'), ['-p', "require('node-gyp-build').resolve(require('path').dirname(require.resolve('shmkv/package.json')))"], { cwd: proj, env, timeoutMs: 30_000 }), 'resolve');
  assert.equal(resolved.trim(), path.join(fs.realpathSync(path.join(proj, 'node_modules', 'shmkv')), 'build', 'Release', 'shm.node'));
  const data = s.p('data');
  fs.mkdirSync(data);
  const srv = await s.startServer(['-p', 'region', '-n', '1', '--data-dir', data], { cwd: proj, env, bin: path.join(proj, 'node_modules', '.bin', 'shmkv-server'), timeoutMs: 60_000 });
  const used = ok(
    await s.run(path.join(bin, 'node'), ['-e', "const kv = require('shmkv').connect({ path: 'region' }); kv.setSync('k', 'v'); console.log(kv.getSync('k')); kv.closeSync()"], { cwd: proj, env, timeoutMs: 30_000 }),
    'the compiled addon at work',
  );
  assert.equal(used.trim(), 'v');
  assert.equal((await srv.stop('SIGTERM', 30_000)).code, 0);
});

test('npm pack in a clean checkout (the tracked files, no node_modules, no dist) builds the TypeScript first: prepack', { timeout: 400_000 }, async (t) => {
  const s = new Scope(t, 'shmkv-prepack-');
  const tracked = ok(await s.run('git', ['ls-files', '-z'], { cwd: ROOT, timeoutMs: 30_000 }), 'git ls-files').split('\0').filter(Boolean);
  const clone = s.p('checkout');
  for (const f of tracked) {
    fs.mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(clone, f));
    fs.chmodSync(path.join(clone, f), fs.statSync(path.join(ROOT, f)).mode);
  }
  assert.ok(!fs.existsSync(path.join(clone, 'dist')) && !fs.existsSync(path.join(clone, 'node_modules')));
  // npm ci inside prepack takes the dependencies from npm's cache (--prefer-offline).
  const env: Record<string, string | undefined> = { PREBUILDS_ONLY: undefined };
  for (const k of Object.keys(process.env)) if (/^npm_/i.test(k)) env[k] = undefined;
  const packed = JSON.parse(ok(await s.run(which('npm'), ['pack', '--json', '--pack-destination', s.dir], { cwd: clone, env, timeoutMs: 360_000 }), 'npm pack in the checkout')) as {
    files: { path: string }[];
  }[];
  const files = packed[0]!.files.map((f) => f.path);
  for (const need of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/native/shim.js', 'dist/src/adapters/keyv.js', 'dist/src/cli/server.js']) {
    assert.ok(files.includes(need), `the tarball packed from a clean checkout has ${need}`);
  }
});
