/**
 * The promise pipeline's decisions about its requests in flight when their
 * server stops serving (pipeline.ts, RIDING THROUGH), one request at a
 * time: settle it from its answer, send it again, or fail it, and what
 * becomes of its window. The pipeline calls these only while it owns every
 * window (the notifier handed them back).
 *
 * A request's window says what may have happened to it (window.ts):
 *   DONE       answered: settle it from the answer, whatever else happened
 *   SUBMITTED  not taken: retract it (CAS), after which no server runs it
 *   TAKEN      a server thread took it: it may have run, and a paused
 *              server may still answer into the window
 */
import type { Lane } from './lane';
import type { Pending } from './requests';
import type { StagingIO } from './staging-io';
import { Op, Status, WindowState } from '../layout/board';
import { OutcomeUnknownError, ServerGoneError } from '../errors';

/** The pipeline's requests in flight, aligned with its lane's order (oldest first). */
export interface InFlight {
  lane: Lane;
  requests: Pending[];
  /** Requests already settled from their answer, out of order (settleAnswered). */
  early: Set<Pending>;
  /** The staging of the lane's windows. */
  io: StagingIO;
}

/** Settle `p` from its response; a throwing settle rejects it. */
export function settle(p: Pending, status: Status, result: number, win: number, io: StagingIO): void {
  let v: unknown;
  try {
    v = p.settle(status, result, win, io);
  } catch (e) {
    p.reject(e as Error);
    return;
  }
  p.resolve(v);
}

/**
 * Settle every request in flight that has its answer, in whatever order
 * (its window stays DONE until the lane consumes it in order): a response's
 * bytes are read now, while nothing else can use the block they are in (a
 * warm-restarted server may reuse it later).
 */
export function settleAnswered(f: InFlight): void {
  const { lane, requests, early, io } = f;
  const board = lane.session.board;
  for (let i = 0; i < requests.length; i++) {
    const p = requests[i];
    const win = lane.order[(lane.completedCount + i) % lane.width];
    if (early.has(p) || board.state(win) !== WindowState.Done) continue;
    early.add(p);
    settle(p, board.status(win), board.result(win), win, io);
  }
}

/**
 * A new server is current (MOVE): end every request in flight on the old
 * lane. Returns those to send to the new server, in order (retracted ones,
 * and taken ones that are idempotent), and what to do once the pipeline
 * stands on its new lane (settle the answered, fail the taken non-idempotent
 * ones with OutcomeUnknownError). A Reserve is dropped: its request, still
 * queued, gets a new one if it needs it. Every window stays the lane's, to
 * be given back to the old session.
 */
export function salvageForMove(f: InFlight, takenReason: string): { again: Pending[]; later: Array<() => void> } {
  const { lane, requests, early, io } = f;
  const board = lane.session.board;
  const again: Pending[] = [];
  const later: Array<() => void> = [];
  let i = 0;
  lane.salvage((win) => {
    const p = requests[i++];
    if (early.delete(p)) return true;
    if (board.state(win) === WindowState.Done) {
      const status = board.status(win);
      const result = board.result(win);
      later.push(() => settle(p, status, result, win, io));
    } else if (p.reserveFor) p.reserveFor.reserving = false;
    else if (board.retract(win) || p.idempotent) again.push(p);
    else later.push(() => p.reject(new OutcomeUnknownError(takenReason)));
    return true;
  });
  return { again, later };
}

/**
 * No server served for reconnectMs (EXPIRE): end every request in flight.
 * Answered ones are settled; retracted ones fail with `gone()` (they never
 * ran); taken ones fail with OutcomeUnknownError (reads, which apply
 * nothing, with `gone()`), and their windows are returned as `lost`, out of
 * the lane, for the caller to hand to the reaper.
 */
export function salvageForExpiry(f: InFlight, gone: () => ServerGoneError): { lost: number[]; later: Array<() => void> } {
  const { lane, requests, early, io } = f;
  const board = lane.session.board;
  const lost: number[] = [];
  const later: Array<() => void> = [];
  let i = 0;
  lane.salvage((win) => {
    const p = requests[i++];
    if (board.state(win) === WindowState.Done) {
      const status = board.status(win);
      const result = board.result(win);
      board.recycle(win);
      if (!early.delete(p)) later.push(() => settle(p, status, result, win, io));
      return true;
    }
    if (p.reserveFor) p.reserveFor.reserving = false;
    if (board.retract(win)) {
      if (!p.reserveFor) later.push(() => p.reject(gone()));
      return true;
    }
    lost.push(win);
    if (!p.reserveFor) later.push(() => p.reject(p.op === Op.Read ? gone() : new OutcomeUnknownError(gone().message)));
    return false;
  });
  return { lost, later };
}
