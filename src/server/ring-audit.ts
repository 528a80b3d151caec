/**
 * The server's watch over the request ring's shared words (see "CORRUPTION"
 * in transport/ring.ts): any same-user process can move the head or tail or
 * forge a slot, and some such writes wedge the ring for good while every
 * thread sleeps politely (clients would hang forever on a healthy-looking
 * server). Called on every heartbeat tick of the main thread; it never
 * blocks and reads only.
 *
 * A ring that moves is not wedged, so nothing is checked while head or tail
 * change. Once both have held still for RING_AUDIT_MS, the ring is checked
 * against its invariants; a violation counts only when a second check, at
 * least RING_AUDIT_MS later and with head and tail still unchanged, finds
 * the same one. Then the ring is wedged, provably by a foreign write: the
 * server reports it in one line and stops (clients get "has stopped"
 * instead of hanging). The ring is not repaired: a forged word may have
 * erased requests, and no repair can tell which clients lost one.
 */
import { Ring } from '../transport/ring';
import { RING_AUDIT_MS } from '../layout/board';

export class RingAudit {
  private head = 0;
  private tail = 0;
  private stillSince = 0;
  private checkedAt = 0;
  private suspect: string | null = null;

  constructor(
    private readonly ring: Ring,
    private readonly now: () => number = Date.now,
  ) {
    this.head = ring.head();
    this.tail = ring.tail();
    this.stillSince = this.now();
  }

  /** One look; the corruption's description once it is proven, else null. */
  tick(): string | null {
    const h = this.ring.head();
    const t = this.ring.tail();
    const now = this.now();
    if (h !== this.head || t !== this.tail) {
      this.head = h;
      this.tail = t;
      this.stillSince = now;
      this.suspect = null;
      return null;
    }
    if (now - this.stillSince < RING_AUDIT_MS || now - this.checkedAt < RING_AUDIT_MS) return null;
    this.checkedAt = now;
    const a = this.ring.audit();
    if (a === null || a.head !== h || a.tail !== t) return null; // moved meanwhile: look again later
    if (a.problem !== null && a.problem === this.suspect) return a.problem;
    this.suspect = a.problem;
    return null;
  }
}
