/**
 * Keyv's own compliance suite for storage adapters, unchanged, against
 * KeyvShmkv on a real server (global-setup.mjs), under both Keyv lines:
 * Keyv 5 (the `keyv` devDependency) on every Node, and Keyv 6 (the `keyv6`
 * alias) where it runs, Node >= 22.19 (its engines). Every suite function
 * the package exports for stores runs here; keyvCompresstionTests is left
 * out because it tests a compression adapter, not a store. Where the suite
 * and the store disagree, the adapter changes, never the suite.
 */
import * as vitest from 'vitest';
import { afterAll, describe, inject } from 'vitest';
import Keyv5 from 'keyv';
import { keyvApiTests, keyvIteratorTests, keyvNamespaceTest, keyvValueTests } from '@keyv/test-suite';
// The built package (what users import; the addon is found relative to dist/).
import { connect } from '../../dist/src/client/client';
import { KeyvShmkv } from '../../dist/src/adapters/keyv';

declare module 'vitest' {
  export interface ProvidedContext {
    region: string;
  }
}

type KeyvClass = typeof Keyv5;
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
/** Keyv 6's engines: node >= 22.19.0. */
export const KEYV6_RUNS = major > 22 || (major === 22 && minor >= 19);
const lines: [string, KeyvClass][] = [['Keyv 5', Keyv5]];
if (KEYV6_RUNS) lines.push(['Keyv 6', (await import('keyv6')).Keyv as unknown as KeyvClass]);

type Suite = typeof vitest;
type Store = () => KeyvShmkv;

/**
 * The suite's one test of Keyv 5's own API (not of the store contract)
 * that Keyv 6 changed: keyv.delete([keys]) resolves to one boolean per key
 * in Keyv 6 (its declarations: `delete(keys: string[]): Promise<boolean[]>`),
 * to one boolean in Keyv 5. Under Keyv 6 that test runs with Keyv 6's
 * answer instead, under a name that says so; nothing else is touched.
 */
const KEYV6_API: Record<string, [string, (t: vitest.TestContext, Keyv: KeyvClass, store: Store) => Promise<void>]> = {
  '.deleteMany([keys]) with nonexistent keys resolves to false': [
    '.deleteMany([keys]) with nonexistent keys resolves to [false, false, false] (Keyv 6: one boolean per key)',
    async (t, Keyv, store) => {
      const keyv = new Keyv({ store: store() });
      t.expect(await keyv.delete(['foo', 'foo1', 'foo2'])).toEqual([false, false, false]);
    },
  ],
};

/** vitest as the suite gets it: unchanged for Keyv 5; for Keyv 6, KEYV6_API's tests replaced. */
function suiteApi(name: string, Keyv: KeyvClass, store: Store): Suite {
  if (name !== 'Keyv 6') return vitest;
  const it = ((title: string, ...rest: unknown[]) => {
    const sub = KEYV6_API[title];
    if (sub) return vitest.it(sub[0], (t) => sub[1](t, Keyv, store));
    return (vitest.it as (...a: unknown[]) => unknown)(title, ...rest);
  }) as unknown as Suite['it'];
  return { ...vitest, it, test: it };
}

// One client for every adapter the suite makes: it calls store() for each
// Keyv it builds, and each connect() would take its own board windows.
const client = connect({ path: inject('region') });
const store = (): KeyvShmkv => new KeyvShmkv({ client });
afterAll(() => client.close());

for (const [name, Keyv] of lines) {
  describe(name, () => {
    describe('keyvApiTests', () => keyvApiTests(suiteApi(name, Keyv, store), Keyv, store));
    describe('keyvValueTests', () => keyvValueTests(suiteApi(name, Keyv, store), Keyv, store));
    describe('keyvNamespaceTest', () => keyvNamespaceTest(suiteApi(name, Keyv, store), Keyv, store));
    describe('keyvIteratorTests', () => keyvIteratorTests(suiteApi(name, Keyv, store), Keyv, store));
    // The same, with an adapter that connects (and disconnects) itself.
    describe('keyvApiTests, own connection', () => {
      const own = new KeyvShmkv({ path: inject('region') });
      // Every Keyv the suite builds on this one adapter adds an 'error' listener.
      own.setMaxListeners(100);
      afterAll(() => own.disconnect());
      keyvApiTests(suiteApi(name, Keyv, () => own), Keyv, () => own);
    });
  });
}
