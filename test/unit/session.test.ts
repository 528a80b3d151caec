/**
 * A client's sessions (client/session.ts) over real files: a new server's
 * region that names the same data file (a warm restart) shares the old
 * session's mapping, one that names another file (a cold start) gets its
 * own; sessions tell servers apart by inode and epoch; give-back releases
 * what no server thread can answer into, retracts what is still submitted,
 * abandons what a server thread took.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { Region } from '../../src/layout/region';
import { openCache } from '../../src/server/cache-files';
import { tableGeometry } from '../../src/store/table-format';
import { fileId, Session } from '../../src/client/session';
import { DEFAULT_WAIT_POLICY } from '../../src/sync/waiter';
import { OWNER_ABANDONED, WINDOW_BYTES, WindowState } from '../../src/layout/board';
import { HDR_SERVER_STATE, ServerState } from '../../src/layout/region-header';
import { removeDir, tempDir } from '../fixtures/unit/harness';

const BYTES = 4 * 1024 * 1024;

let caches = 0;
/** A fresh cache (data and exchange files) as a server makes one; its data file's path. */
function dataFile(dir: string): string {
  const table = { initialBuckets: 64, dataBytes: BYTES };
  const c = openCache({ regionPath: path.join(dir, `cache${caches++}`), dataDir: dir, table, geometry: tableGeometry(table), fresh: true, log: () => undefined });
  assert.equal(c.parts.header.bytes, BYTES);
  return c.dataPath;
}

function region(dir: string, name: string, data: string): Region {
  const r = Region.create(path.join(dir, name), { ringCapacity: 16, windowCount: 8, windowBytes: WINDOW_BYTES }, 1);
  r.setDataFile(data, BYTES);
  r.headerSet(HDR_SERVER_STATE, ServerState.Ready);
  return r;
}

test('a new server naming the same data file shares the mapping (warm); another data file is mapped anew (cold); inode and epoch tell servers apart', () => {
  const dir = tempDir('session');
  try {
    const d1 = dataFile(dir);
    const d2 = dataFile(dir);
    const r1 = region(dir, 'r1', d1);
    const s1 = Session.attach(r1, fileId(r1.path), DEFAULT_WAIT_POLICY);
    const warm = region(dir, 'r2', d1);
    const s2 = Session.attach(warm, fileId(warm.path), DEFAULT_WAIT_POLICY, s1);
    assert.equal(s2.data, s1.data, 'a warm restart keeps the mapping');
    assert.equal(s2.xchg, s1.xchg, 'and the exchange file it still has');
    const cold = region(dir, 'r3', d2);
    const s3 = Session.attach(cold, fileId(cold.path), DEFAULT_WAIT_POLICY, s2);
    assert.notEqual(s3.data, s2.data, 'a cold start maps its own data file');
    assert.notEqual(s3.xchg, s2.xchg);
    assert.ok(s1.epoch !== 0 && s2.epoch !== 0 && s1.epoch !== s2.epoch, `epochs ${s1.epoch} ${s2.epoch}`);
    assert.equal(s1.differs(fileId(r1.path), s1.epoch), false);
    assert.equal(s1.differs(fileId(warm.path), s2.epoch), true);
    assert.equal(s1.differs(fileId(r1.path), s2.epoch), true, 'same inode, other epoch');
  } finally {
    removeDir(dir);
  }
});

test('give-back: IDLE and DONE windows are released, SUBMITTED ones retracted then released, TAKEN ones abandoned to the reaper', () => {
  const dir = tempDir('session');
  try {
    const r = region(dir, 'r', dataFile(dir));
    const s = Session.attach(r, fileId(r.path), DEFAULT_WAIT_POLICY);
    const first = s.reserve(4);
    const b = s.board;
    b.prepare(first + 1, 1, 1, 0); // SUBMITTED
    b.prepare(first + 2, 1, 1, 0);
    assert.equal(b.claim(first + 2), true); // TAKEN by a "server thread"
    b.prepare(first + 3, 1, 1, 0);
    b.claim(first + 3);
    b.complete(first + 3, 0, 0); // DONE
    assert.equal(s.reserved, 4);
    s.release(first);
    assert.equal(s.owners.ownerOf(first), 0);
    assert.equal(s.owners.ownerOf(first + 1), 0);
    assert.equal(b.state(first + 1), WindowState.Idle, 'retracted');
    assert.equal(b.claim(first + 1), false, 'a server thread cannot claim a retracted request');
    assert.equal(s.owners.ownerOf(first + 2), OWNER_ABANDONED);
    assert.equal(s.owners.ownerOf(first + 3), 0);
    assert.equal(s.reserved, 0);
    s.release(first); // twice: nothing more
    assert.equal(s.owners.ownerOf(first + 2), OWNER_ABANDONED);
  } finally {
    removeDir(dir);
  }
});
