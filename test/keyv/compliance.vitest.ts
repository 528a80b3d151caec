/**
 * Keyv's own compliance suite for storage adapters, unchanged, against
 * KeyvShmkv on a real server (global-setup.mjs). Every suite function the
 * package exports for stores runs here; keyvCompresstionTests is left out
 * because it tests a compression adapter, not a store. Where the suite
 * and the store disagree, the adapter changes, never the suite.
 */
import * as vitest from 'vitest';
import { afterAll, describe, inject } from 'vitest';
import Keyv from 'keyv';
import { keyvApiTests, keyvIteratorTests, keyvNamespaceTest, keyvValueTests } from '@keyv/test-suite';
// The built package (what users import; the addon is found relative to dist/).
import { connect } from '../../dist/src/client/client';
import { KeyvShmkv } from '../../dist/src/adapters/keyv';

declare module 'vitest' {
  export interface ProvidedContext {
    region: string;
  }
}

// One client for every adapter the suite makes: it calls store() for each
// Keyv it builds, and each connect() would take its own board windows.
const client = connect({ path: inject('region') });
const store = (): KeyvShmkv => new KeyvShmkv({ client });
afterAll(() => client.close());

describe('keyvApiTests', () => keyvApiTests(vitest, Keyv, store));
describe('keyvValueTests', () => keyvValueTests(vitest, Keyv, store));
describe('keyvNamespaceTest', () => keyvNamespaceTest(vitest, Keyv, store));
describe('keyvIteratorTests', () => keyvIteratorTests(vitest, Keyv, store));
// The same, with an adapter that connects (and disconnects) itself.
describe('keyvApiTests, own connection', () => {
  const own = new KeyvShmkv({ path: inject('region') });
  // Every Keyv the suite builds on this one adapter adds an 'error' listener.
  own.setMaxListeners(100);
  afterAll(() => own.disconnect());
  keyvApiTests(vitest, Keyv, () => own);
});
