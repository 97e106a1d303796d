// oidc-provider's storage adapter over one table. Grant id, account and client are lifted
// into indexed columns so grants can be listed and revoked by user or agent
// (docs/pitfalls.md#revoking-a-grant-outside-a-request).
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { epochSeconds } from '../lib/duration.js';
import type { Sql } from './engine.js';
import { readMemo } from './read_memo.js';

interface Row {
  payload: string;
  expires_at: number | null;
  consumed_at: number | null;
}

/** A row as the read memo of a token request keeps it: parsed once (./read_memo.ts). */
interface Parsed {
  payload: AdapterPayload;
  expires_at: number | null;
  consumed_at: number | null;
}

// The records a token request consumes: read FOR UPDATE inside the request's transaction, so a
// second request presenting the same one on another node waits and then sees it consumed
// (src/app/token_transaction.ts). SQLite needs no row lock: the transaction holds the database.
const CONSUMABLE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode']);
const memoKey = (model: string, id: string) => `oidc_models:${model}:${id}`;

export interface OidcStore {
  upsert(model: string, id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void>;
  find(model: string, id: string): Promise<AdapterPayload | undefined>;
  findBy(column: 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined>;
  /** Marks the record consumed; false when it was consumed already (another request won). */
  consume(model: string, id: string): Promise<boolean>;
  destroy(model: string, id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<number>;
}

/** Seconds an expired device code is kept findable (see upsert). */
export const DEVICE_CODE_GRACE = 3600;

const UPSERT = `
  INSERT INTO oidc_models (model, id, payload, grant_id, account_id, client_id, uid, user_code, created_at, expires_at, consumed_at)
  VALUES (@model, @id, @payload, @grant_id, @account_id, @client_id, @uid, @user_code, @now, @expires_at, NULL)
  ON CONFLICT (model, id) DO UPDATE SET
    payload = excluded.payload, grant_id = excluded.grant_id, account_id = excluded.account_id,
    client_id = excluded.client_id, uid = excluded.uid, user_code = excluded.user_code,
    expires_at = excluded.expires_at`;
const FIND = 'SELECT payload, expires_at, consumed_at FROM oidc_models WHERE model = ? AND id = ?';
// A disabled agent does not exist as far as oidc-provider is concerned: no authorization, no token.
const FIND_CLIENT = `SELECT o.payload, o.expires_at, o.consumed_at FROM oidc_models o
  LEFT JOIN client_state s ON s.client_id = o.id
  WHERE o.model = 'Client' AND o.id = ? AND s.disabled_at IS NULL`;
const FIND_BY_UID = "SELECT payload, expires_at, consumed_at FROM oidc_models WHERE model = 'Session' AND uid = ?";
const FIND_BY_USER_CODE =
  "SELECT payload, expires_at, consumed_at FROM oidc_models WHERE model = 'DeviceCode' AND user_code = ?";
// One conditional UPDATE: of two requests consuming the same code, the first marks it and the
// second's find sees it consumed.
const CONSUME = 'UPDATE oidc_models SET consumed_at = ? WHERE model = ? AND id = ? AND consumed_at IS NULL';
const DESTROY = 'DELETE FROM oidc_models WHERE model = ? AND id = ?';
const REVOKE = 'DELETE FROM oidc_models WHERE grant_id = ?';

export function createOidcStore(sql: Sql, now: () => number = () => Date.now()): OidcStore {
  const live = (row: Parsed | null | undefined): AdapterPayload | undefined => {
    if (!row) return undefined;
    if (row.expires_at !== null && row.expires_at <= epochSeconds(now())) return undefined;
    // A copy: oidc-provider and the grace hook may change what they are given.
    const payload = { ...row.payload };
    // After consume, find still returns the record, with `consumed` set
    // (docs/pitfalls.md#consumed-records-must-stay-findable).
    if (row.consumed_at !== null) payload.consumed = row.consumed_at;
    return payload;
  };
  const parse = (row: Row | undefined): Parsed | null =>
    row
      ? { payload: JSON.parse(row.payload) as AdapterPayload, expires_at: row.expires_at, consumed_at: row.consumed_at }
      : null;

  return {
    async upsert(model, id, payload, expiresIn) {
      const t = epochSeconds(now());
      // No expiresIn (dynamically registered clients) means no expiry, not a cap
      // (docs/pitfalls.md#registrations-that-never-expire).
      // A device code stays findable for a while past its expiry, so a device still polling is told
      // expired_token (RFC 8628 §3.5) by oidc-provider, which checks `exp` itself, not invalid_grant.
      const grace = model === 'DeviceCode' ? DEVICE_CODE_GRACE : 0;
      const expiresAt = typeof expiresIn === 'number' && expiresIn > 0 ? t + expiresIn + grace : null;
      const p = payload as AdapterPayload & { client_id?: string; userCode?: string };
      await sql.run(UPSERT, {
        model,
        id,
        payload: JSON.stringify(payload),
        grant_id: p.grantId ?? null,
        account_id: p.accountId ?? null,
        client_id: p.clientId ?? p.client_id ?? null,
        uid: p.uid ?? null,
        user_code: p.userCode ?? null,
        now: t,
        expires_at: expiresAt,
      });
      // Read again if asked for (the stored row keeps its consumed mark on an update).
      readMemo()?.delete(memoKey(model, id));
    },
    async find(model, id) {
      const memo = readMemo();
      const key = memoKey(model, id);
      if (memo?.has(key)) return live(memo.get(key) as Parsed | null);
      const row =
        model === 'Client'
          ? await sql.get<Row>(FIND_CLIENT, [id])
          : await sql.get<Row>(memo && CONSUMABLE.has(model) ? FIND + sql.dialect.forUpdate : FIND, [model, id]);
      const parsed = parse(row);
      memo?.set(key, parsed);
      return live(parsed);
    },
    async findBy(column, value) {
      return live(parse(await sql.get<Row>(column === 'uid' ? FIND_BY_UID : FIND_BY_USER_CODE, [value])));
    },
    async consume(model, id) {
      const at = epochSeconds(now());
      const first = (await sql.run(CONSUME, [at, model, id])).changes === 1;
      const entry = readMemo()?.get(memoKey(model, id)) as Parsed | null | undefined;
      if (entry && entry.consumed_at === null) entry.consumed_at = at;
      return first;
    },
    async destroy(model, id) {
      await sql.run(DESTROY, [model, id]);
      readMemo()?.set(memoKey(model, id), null);
    },
    async revokeByGrantId(grantId) {
      const { changes } = await sql.run(REVOKE, [grantId]);
      readMemo()?.clear();
      return changes;
    },
  };
}

/**
 * Lets the provider layer adjust a record `find` returns (the refresh-token reuse grace window of
 * src/provider/refresh_grace.ts) without this module knowing about requests.
 */
export type FindHook = (model: string, payload: AdapterPayload) => AdapterPayload | Promise<AdapterPayload>;

/**
 * Lets the provider layer keep a record from being stored: false means "do not store" (a refresh
 * token minted by a racing rotation whose predecessor already has a successor; see
 * src/provider/refresh_grace.ts).
 */
export type UpsertHook = (model: string, id: string, payload: AdapterPayload) => boolean | Promise<boolean>;

/**
 * Told whether a consume marked the record (`first`) or found it consumed by a concurrent request
 * (two requests that both found it unconsumed); it may throw to refuse the request.
 */
export type ConsumeHook = (model: string, id: string, first: boolean) => void | Promise<void>;

/** The class oidc-provider instantiates once per model name. */
export function adapterClass(
  store: OidcStore,
  onFind?: FindHook,
  onUpsert?: UpsertHook,
  onConsume?: ConsumeHook,
): new (
  name: string,
) => Adapter {
  return class SqlAdapter implements Adapter {
    constructor(private readonly model: string) {}
    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (onUpsert && !(await onUpsert(this.model, id, payload))) return;
      await store.upsert(this.model, id, payload, expiresIn);
    }
    async find(id: string): Promise<AdapterPayload | undefined> {
      const found = await store.find(this.model, id);
      return found && onFind ? onFind(this.model, found) : found;
    }
    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return store.findBy('user_code', userCode);
    }
    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return store.findBy('uid', uid);
    }
    async consume(id: string): Promise<void> {
      const first = await store.consume(this.model, id);
      if (onConsume) await onConsume(this.model, id, first);
    }
    async destroy(id: string): Promise<void> {
      await store.destroy(this.model, id);
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      await store.revokeByGrantId(grantId);
    }
  };
}
