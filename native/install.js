#!/usr/bin/env node
// @ts-check
// The package's install script (package.json "install"), plain JavaScript
// because it runs before anything is built. Where the package is installed:
//   1. a prebuilt addon for this platform, libc and Node ABI loads: done,
//      silently (linux-x64 glibc with Node 20, 22, 24, 26: no compiler);
//   2. otherwise one line says so, and node-gyp compiles native/shm.cc
//      (needs g++, make, python3), its output going to a log file;
//   3. if that fails, one line names the Node version, the platform, the
//      reason and what to do, and the install fails (exit 1).
// npm's own "npm error" lines frame ours; node-gyp's ~40 are in the log.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const libc = process.env.LIBC || (fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
const here = `Node ${process.version} (ABI ${process.versions.modules}) on ${process.platform}-${process.arch}${process.platform === 'linux' ? ` ${libc}` : ''}`;

/** The addon node-gyp-build picks here, loaded: null when it loads, else why not (one line). */
function tryLoad() {
  let file;
  try {
    file = require('node-gyp-build').resolve(root);
  } catch {
    return `no prebuilt addon for ${here}`;
  }
  try {
    require(file);
    return null;
  } catch (e) {
    return `${path.relative(root, file)} does not load on ${here} (${String((e && e.message) || e).split('\n')[0]})`;
  }
}

/** What the package ships, from prebuilds/: "linux-x64 glibc with Node 20, 22, 24, 26". */
function shipped() {
  const majors = { 115: 20, 127: 22, 137: 24, 147: 26 };
  const out = [];
  for (const tuple of safeReaddir(path.join(root, 'prebuilds'))) {
    const found = safeReaddir(path.join(root, 'prebuilds', tuple))
      .map((f) => /\.abi(\d+)\.(glibc|musl)\.node$/.exec(f))
      .filter((m) => m !== null);
    const nodes = found.map((m) => `${majors[/** @type {keyof typeof majors} */ (Number(m[1]))] ?? `ABI ${m[1]}`}`);
    if (found.length > 0) out.push(`${tuple} ${found[0][2]} with Node ${nodes.join(', ')}`);
  }
  return out.length > 0 ? out.join('; ') : 'none';
}

/** @param {string} dir */
function safeReaddir(dir) {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** The cause of a failed node-gyp run, from its log, in a few words. */
function reason(log) {
  if (/Could not find any Python|find Python/i.test(log) && /gyp ERR!/.test(log)) return 'no python3 found';
  if (/(^|\s)(make|g\+\+|c\+\+|cc|gcc): (not found|No such file)|spawn (make|g\+\+|cc) ENOENT|not found: (make|g\+\+)|\/bin\/false/m.test(log))
    return 'no C++ toolchain (g++, make) found';
  const err = log.split('\n').find((l) => /error:|gyp ERR! stack Error:/.test(l));
  return err ? err.replace(/^gyp ERR! stack /, '').trim() : 'node-gyp failed';
}

const missing = tryLoad();
if (missing === null) process.exit(0);

process.stderr.write(`shmkv: ${missing} (prebuilt: ${shipped()}): compiling native/shm.cc with node-gyp (needs g++, make, python3)\n`);
const log = path.join(os.tmpdir(), `shmkv-install-${process.pid}.log`);
const gyp = process.env.npm_config_node_gyp;
const r = gyp
  ? spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: root, encoding: 'utf8' })
  : spawnSync('node-gyp', ['rebuild'], { cwd: root, encoding: 'utf8', shell: true });
const output = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`;
fs.writeFileSync(log, output);
const after = r.status === 0 ? tryLoad() : null;
if (r.status === 0 && after === null) {
  process.stderr.write(`shmkv: compiled the addon for ${here} (build/Release/shm.node)\n`);
  process.exit(0);
}
const why = r.status === 0 ? `the build does not load: ${after}` : reason(output);
process.stderr.write(
  `shmkv: cannot install on ${here}: no prebuilt addon fits and compiling one failed (${why}; log: ${log}). ` +
    `Install g++, make and python3, then run 'npm rebuild shmkv'; or use what needs no compiler (${shipped()}).\n`,
);
process.exit(1);
