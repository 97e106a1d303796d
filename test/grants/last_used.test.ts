// "Last used" of a grant and of an agent is kept to the minute (LAST_USED_RESOLUTION): a busy agent
// does not rewrite either row on every token, yet the stored time is never more than that behind.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LAST_USED_RESOLUTION } from '../../src/storage/client_state.js';
import { type Db, openDatabase } from '../../src/storage/db.js';
import { createStores, type Stores } from '../../src/storage/index.js';
import { migrate } from '../../src/storage/migrate.js';

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
  let db: Db;
  let stores: Stores;
  beforeEach(() => {
    db = openDatabase(':memory:');
    migrate(db);
    stores = createStores(db, { accessTokenTtl: 300 });
    stores.grantRecords.saved(GRANT, T - 1000);
    stores.clientState.registered('c1', 'dynamic');
  });
  afterEach(() => db.close());

  const grantLastUsed = () => stores.grantRecords.find('g1')?.lastUsedAt;
  const agent = () => stores.clientState.find('c1');

  it('records the first use at once', () => {
    stores.grantRecords.used('g1', T);
    stores.clientState.used('c1', T);
    expect(grantLastUsed()).toBe(T);
    expect(agent()).toMatchObject({ firstUsedAt: T, lastUsedAt: T });
  });

  it('leaves a value within the resolution as it is, and moves it once it is older', () => {
    stores.grantRecords.used('g1', T);
    stores.clientState.used('c1', T);
    stores.grantRecords.used('g1', T + LAST_USED_RESOLUTION);
    stores.clientState.used('c1', T + LAST_USED_RESOLUTION);
    expect(grantLastUsed()).toBe(T);
    expect(agent()?.lastUsedAt).toBe(T);
    stores.grantRecords.used('g1', T + LAST_USED_RESOLUTION + 1);
    stores.clientState.used('c1', T + LAST_USED_RESOLUTION + 1);
    expect(grantLastUsed()).toBe(T + LAST_USED_RESOLUTION + 1);
    expect(agent()).toMatchObject({ firstUsedAt: T, lastUsedAt: T + LAST_USED_RESOLUTION + 1 });
  });

  it('rewrites a stored time in the future (a clock set back)', () => {
    stores.grantRecords.used('g1', T + 3600);
    stores.clientState.used('c1', T + 3600);
    stores.grantRecords.used('g1', T);
    stores.clientState.used('c1', T);
    expect(grantLastUsed()).toBe(T);
    expect(agent()?.lastUsedAt).toBe(T);
  });

  it('creates the state of an agent it has not seen, and never touches a revoked grant', () => {
    stores.clientState.used('c2', T);
    expect(stores.clientState.find('c2')).toMatchObject({ firstUsedAt: T, lastUsedAt: T });
    db.prepare('UPDATE grant_records SET revoked_at = ? WHERE id = ?').run(T - 10, 'g1');
    stores.grantRecords.used('g1', T);
    expect(grantLastUsed()).toBeNull();
  });
});
