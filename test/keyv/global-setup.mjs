// Starts a real ./server (the built one: `make test` builds first) in a
// temp dir for the Keyv suite, hands its region path to the tests, and
// stops it and removes the dir afterwards, even when the suite fails.
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const { startServer } = require('../../dist/test/support/procs.js');

export default async function setup({ provide }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmkv-keyv-'));
  const region = path.join(dir, 'region');
  // A data dir of its own: the server's data file lives next to the region.
  const server = await startServer(['-n', '2', '-s', '1024', '-p', region, '--data-dir', dir], { cwd: dir });
  provide('region', region);
  return async () => {
    await server.stop('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  };
}
