/**
 * The reaper: the server main thread's share of window ownership
 * (transport/owners.ts states the protocol). Each tick it takes back the
 * windows of clients that died without releasing them (SIGKILL, crash) and
 * those a live client abandoned (a request of its own it gave up on may
 * still be answered into them), through RECLAMATION's quarantine, and then
 * frees the staging blocks of windows nobody owns.
 *
 * It runs on the server's main thread, which must never block on anything
 * a client can hold: every step is a CAS that succeeds or waits for the
 * next tick, so a client frozen at any instant delays nothing here.
 */
import { Owners, Reclamation } from '../transport/owners';
import { Ring } from '../transport/ring';
import type { Staging } from './staging';

export class Reaper {
  private readonly reclamation: Reclamation;

  constructor(
    private readonly owners: Owners,
    ring: Ring,
    words: Int32Array,
    workers: number,
    private readonly staging: Staging,
  ) {
    this.reclamation = new Reclamation(owners, ring, words, workers);
  }

  /** One pass: reclaim what is safe, then free unowned windows' staging blocks. */
  tick(): void {
    this.reclamation.tick();
    // A window nobody owns has no request in flight (a client releases only
    // IDLE or DONE windows; abandoned and dead owners' windows are freed
    // above only once no worker can still hold them), and owners.forEachFree
    // holds each one (QUARANTINED) so that no client reserves it while its
    // block goes back to the heap.
    if (this.staging.held() > 0) this.owners.forEachFree((w) => this.staging.release(w));
  }

  /** Windows waiting in quarantine (tests, diagnostics). */
  get quarantined(): number {
    return this.reclamation.quarantined;
  }
}
