/**
 * Bench thread for the "table" section: the server's hash table alone, no
 * ring, no board, no client: replay one slice of the workload straight into
 * Table.getU32/putU32 on a shared data buffer, as a server worker does after taking
 * a request. Isolates what coarse vs fine locking changes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Table } from '../src/store/table';
import { Status } from '../src/layout/layout';
import { barrier, OP_GET, SliceReport, SliceTask } from './common';

export interface TableTask extends SliceTask {
  arena: SharedArrayBuffer;
}

function main(t: TableTask): SliceReport {
  const table = new Table(t.arena);
  const { ops, keys, values, start, end } = t;
  barrier(t);
  let notFound = 0;
  const t0 = process.hrtime.bigint();
  for (let i = start; i < end; i++) {
    if (ops[i] === OP_GET) {
      if (table.getU32(keys[i]) !== Status.Ok) notFound++;
    } else table.putU32(keys[i], values[i]);
  }
  const t1 = process.hrtime.bigint();
  return { firstSubmitNs: Number(t0), lastCompleteNs: Number(t1), completed: end - start, notFound, latencies: null };
}

parentPort!.postMessage(main(workerData as TableTask));
