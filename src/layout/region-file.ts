/**
 * The region file as a whole: the header page (region-header.ts), then the
 * ring, the owner table and the board (board.ts), then the client stats
 * area (client-stats-area.ts), each sized by the geometry the server was
 * started with. computeLayout is the one place those offsets are derived
 * (and a geometry checked); region.ts applies them to a file.
 */
import { CACHE_LINE, Fields, PAGE } from './fields';
import { HEADER_BYTES, REGION_VERSION } from './region-header';
import { MAX_RING_CAPACITY, MAX_WINDOWS, OWNER_BYTES, RING_SLOT_BYTES, WINDOW_BYTES } from './board';
import { CLIENT_STATS_BYTES } from './client-stats-area';

export interface RegionGeometry {
  ringCapacity: number;
  windowCount: number;
  windowBytes: number;
}

export interface RegionLayout extends RegionGeometry {
  ringOffset: number;
  ownerOffset: number;
  boardOffset: number;
  /** The client stats area (CLIENT_STATS_*), after the board. */
  clientStatsOffset: number;
  regionBytes: number;
}

export const DEFAULT_RING_CAPACITY = 1024;
export const DEFAULT_WINDOW_COUNT = 8192;

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/*
 * The region file: the header page, then areas whose sizes follow from the
 * geometry, each starting on a cache line. At the default geometry:
 *
 * REGION FILE (RegionLayout fields, drawn at the default geometry)
 *   offset    bytes  field
 *        0     4096  HDR_MAGIC                 the header page: REGION HEADER, HEADER_BYTES long
 *     4096     4096  ringOffset                ring: ringCapacity slot words (RING_SLOT_*)
 *     8192    32768  ownerOffset               owner table: one owner word per window (transport/owners.ts)
 *    40960   524288  boardOffset               board: windowCount windows (WINDOW)
 *   565248   131264  clientStatsOffset         client stats (CLIENT STATS AREA)
 *   700416        0  regionBytes               the end: whole pages
 */
function regionFile(g: RegionGeometry): { f: Fields; layout: RegionLayout } {
  const f = new Fields('REGION FILE (RegionLayout fields, drawn at the default geometry)');
  f.field('HDR_MAGIC', HEADER_BYTES, 'the header page: REGION HEADER, HEADER_BYTES long', PAGE);
  const ringOffset = f.line().field('ringOffset', g.ringCapacity * RING_SLOT_BYTES, 'ring: ringCapacity slot words (RING_SLOT_*)', CACHE_LINE);
  const ownerOffset = f.line().field('ownerOffset', g.windowCount * OWNER_BYTES, 'owner table: one owner word per window (transport/owners.ts)', CACHE_LINE);
  const boardOffset = f.line().field('boardOffset', g.windowCount * g.windowBytes, 'board: windowCount windows (WINDOW)', CACHE_LINE);
  const clientStatsOffset = f.line().field('clientStatsOffset', CLIENT_STATS_BYTES, 'client stats (CLIENT STATS AREA)', CACHE_LINE);
  const regionBytes = f.field('regionBytes', 0, 'the end: whole pages', PAGE);
  return { f, layout: { ...g, ringOffset, ownerOffset, boardOffset, clientStatsOffset, regionBytes } };
}

/** Compute offsets from a geometry; throws RangeError naming a bad field. */
export function computeLayout(g: RegionGeometry): RegionLayout {
  if (!isPowerOfTwo(g.ringCapacity) || g.ringCapacity > MAX_RING_CAPACITY)
    throw new RangeError(`ring capacity must be a power of two up to ${MAX_RING_CAPACITY}, got ${g.ringCapacity}`);
  if (!Number.isInteger(g.windowCount) || g.windowCount < 1 || g.windowCount > MAX_WINDOWS)
    throw new RangeError(`window count must be 1..${MAX_WINDOWS}, got ${g.windowCount}`);
  if (g.windowBytes !== WINDOW_BYTES)
    throw new RangeError(`window size must be ${WINDOW_BYTES} bytes in layout version ${REGION_VERSION}`);
  return regionFile(g).layout;
}

/** The REGION FILE record at the default geometry: what its drawing shows. */
export function regionFileRecord(): Fields {
  return regionFile({ ringCapacity: DEFAULT_RING_CAPACITY, windowCount: DEFAULT_WINDOW_COUNT, windowBytes: WINDOW_BYTES }).f;
}
