/**
 * Bench thread for the "table" section: the server's hash table alone, no
 * ring, no board, no client: replay one slice of the workload straight into
 * Table.getU32/putU32 on a shared data buffer, as a server worker does after taking
 * a request. Isolates what coarse vs fine locking changes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Table } from '../../src/store/table';
import { partsOf, TableTransfer } from '../../src/store/table-format';
import { barrier, OP_GET, SliceReport, SliceTask, WARMUP_REQUESTS } from '../harness/common';

export interface TableTask extends SliceTask {
  table: TableTransfer;
  coarse: boolean;
}

/** Replay requests [start, end) of the slice into the table; returns the gets that found nothing. */
function replay(table: Table, t: TableTask, start: number, end: number): number {
  const { ops, keys, values } = t;
  let notFound = 0;
  for (let i = start; i < end; i++) {
    if (ops[i] === OP_GET) {
      if (table.getU32(keys[i]) < 0) notFound++;
    } else table.putU32(keys[i], values[i]);
  }
  return notFound;
}

function main(t: TableTask): SliceReport {
  const table = new Table(partsOf(t.table), undefined, t.coarse);
  const { start, end } = t;
  replay(table, t, start, Math.min(end, start + WARMUP_REQUESTS));
  barrier(t);
  const t0 = process.hrtime.bigint();
  const notFound = replay(table, t, start, end);
  const t1 = process.hrtime.bigint();
  return { firstSubmitNs: Number(t0), lastCompleteNs: Number(t1), completed: end - start, notFound, latencies: null };
}

parentPort!.postMessage(main(workerData as TableTask));
