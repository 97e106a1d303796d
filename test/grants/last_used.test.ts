// "Last used" of a grant and of an agent is kept to the minute (LAST_USED_RESOLUTION): a busy agent
// does not rewrite either row on every token, yet the stored time is never more than that behind.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LAST_USED_RESOLUTION } from '../../src/storage/client_state.js';
import { createStores, type Stores } from '../../src/storage/index.js';
import { type TestStorage, tempTestStorage } from '../support/storage.js';

const T = 1_800_000_000;
const GRANT = {
  id: 'g1',
  accountId: 'u1',
  clientId: 'c1',
  resource: 'https://mcp.example.com/mcp',
  scopes: ['mcp:read'],
  obtainedVia: 'consent',
};

describe('last used', () => {
  let storage: TestStorage;
  let stores: Stores;
  beforeEach(async () => {
    storage = await tempTestStorage();
    stores = createStores(storage.sql, { accessTokenTtl: 300 });
    await stores.grantRecords.saved(GRANT, T - 1000);
    await stores.clientState.registered('c1', 'dynamic');
  });
  afterEach(() => storage.close());

  const grantLastUsed = async () => (await stores.grantRecords.find('g1'))?.lastUsedAt;
  const agent = () => stores.clientState.find('c1');

  it('records the first use at once', async () => {
    await stores.grantRecords.used('g1', T);
    await stores.clientState.used('c1', T);
    expect(await grantLastUsed()).toBe(T);
    expect(await agent()).toMatchObject({ firstUsedAt: T, lastUsedAt: T });
  });

  it('leaves a value within the resolution as it is, and moves it once it is older', async () => {
    await stores.grantRecords.used('g1', T);
    await stores.clientState.used('c1', T);
    await stores.grantRecords.used('g1', T + LAST_USED_RESOLUTION);
    await stores.clientState.used('c1', T + LAST_USED_RESOLUTION);
    expect(await grantLastUsed()).toBe(T);
    expect((await agent())?.lastUsedAt).toBe(T);
    await stores.grantRecords.used('g1', T + LAST_USED_RESOLUTION + 1);
    await stores.clientState.used('c1', T + LAST_USED_RESOLUTION + 1);
    expect(await grantLastUsed()).toBe(T + LAST_USED_RESOLUTION + 1);
    expect(await agent()).toMatchObject({ firstUsedAt: T, lastUsedAt: T + LAST_USED_RESOLUTION + 1 });
  });

  it('rewrites a stored time in the future (a clock set back)', async () => {
    await stores.grantRecords.used('g1', T + 3600);
    await stores.clientState.used('c1', T + 3600);
    await stores.grantRecords.used('g1', T);
    await stores.clientState.used('c1', T);
    expect(await grantLastUsed()).toBe(T);
    expect((await agent())?.lastUsedAt).toBe(T);
  });

  it('creates the state of an agent it has not seen, and never touches a revoked grant', async () => {
    await stores.clientState.used('c2', T);
    expect(await stores.clientState.find('c2')).toMatchObject({ firstUsedAt: T, lastUsedAt: T });
    await stores.sql.run('UPDATE grant_records SET revoked_at = ? WHERE id = ?', [T - 10, 'g1']);
    await stores.grantRecords.used('g1', T);
    expect(await grantLastUsed()).toBeNull();
  });
});
