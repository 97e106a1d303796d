// Fills a server's database for the scale scenario with direct SQL in big transactions: users,
// agents, grants, one live refresh token per grant and the grant records people see. Each row is a
// copy of a row the server wrote itself (a real user, client, Grant, RefreshToken, grant record)
// with new ids and owners set with json_set, so payloads and indexed columns match the real schema.
// Rows are generated inside SQLite (a recursive CTE per batch), which is many times faster than
// binding a million rows from JavaScript; ids are as long as real ones and ascend with the row
// number, so the B-trees are built by appending (real ids are random: pages end up fuller here,
// which makes lookups no slower than in a database that grew by itself).
import { openDb } from './instances.mjs';

const BATCH = 100_000;

// Deterministic ids from a row number, shaped like the real ones (a UUID for users and agents;
// 43 characters for grants and tokens, as oidc-provider's base64url ids).
const USER_ID = (n) =>
  `printf('%08x-%04x-4%03x-8%03x-%012x', ${n}, (${n} * 40503) & 65535, (${n} * 2654435761) & 4095, (${n} * 97) & 4095, (${n} * 2654435761) & 281474976710655)`;
const CLIENT_ID = (n) =>
  `printf('c%07x-%04x-4%03x-8%03x-%012x', ${n}, (${n} * 40503) & 65535, 0, 0, ${n} * 2654435761)`;
const GRANT_ID = (n) => `printf('g%011d%031d', ${n}, (${n} * 2654435761) % 9999999999999)`;
const TOKEN_ID = (n) => `printf('r%011d%031d', ${n}, (${n} * 2246822519) % 9999999999999)`;

function template(db, sql, ...args) {
  const row = db.prepare(sql).get(...args);
  if (!row) throw new Error(`seed: no template row for ${sql}`);
  return row;
}

/** INSERT ... SELECT over row numbers [from, to): `select` maps column name → SQL over `i`. */
function generator(db, table, tpl, select) {
  const cols = Object.keys(tpl);
  const exprs = cols.map((c) => select[c] ?? `@tpl_${c}`);
  const stmt = db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT CAST(@from AS INTEGER) UNION ALL SELECT i + 1 FROM n WHERE i + 1 < @to)
     INSERT INTO ${table} (${cols.join(', ')}) SELECT ${exprs.join(', ')} FROM n`,
  );
  const sql = exprs.join(' ');
  const params = Object.fromEntries(cols.filter((c) => sql.includes(`@tpl_${c}`)).map((c) => [`tpl_${c}`, tpl[c]]));
  return (from, to, extra = {}) => stmt.run({ ...params, ...extra, from, to });
}

function inBatches(db, count, fns) {
  const run = db.transaction((from, to) => {
    for (const fn of fns) fn(from, to);
  });
  for (let from = 0; from < count; from += BATCH) run(from, Math.min(count, from + BATCH));
}

/** opts: { users, grants, clients }; the server must be stopped. Returns row counts and seconds. */
export async function seedDatabase(dataDir, opts) {
  const started = performance.now();
  const db = await openDb(dataDir);
  try {
    // No journal, no fsync, a big page cache: a bulk load into a stopped server's database.
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -1000000');
    db.pragma('temp_store = MEMORY');
    const user = template(db, 'SELECT * FROM users LIMIT 1');
    const client = template(db, "SELECT * FROM oidc_models WHERE model = 'Client' LIMIT 1");
    const state = template(db, 'SELECT * FROM client_state WHERE client_id = ?', client.id);
    const grant = template(db, "SELECT * FROM oidc_models WHERE model = 'Grant' LIMIT 1");
    const refresh = template(
      db,
      "SELECT * FROM oidc_models WHERE model = 'RefreshToken' AND consumed_at IS NULL AND grant_id = ? LIMIT 1",
      grant.id,
    );
    const record = template(db, 'SELECT * FROM grant_records WHERE id = ?', grant.id);
    const { users, grants, clients } = opts;
    // Grant i belongs to user i*U/G (consecutive, so each user's grants sit together like a
    // user's tokens do) and agent i mod C: every (user, agent) pair at most once while G/U <= C.
    const owner = `(i * ${users} / ${grants})`;
    const agent = `(i % ${clients})`;

    inBatches(db, users, [generator(db, 'users', user, { id: USER_ID('i'), username: `'seed' || i`, is_admin: '0' })]);
    inBatches(db, clients, [
      generator(db, 'oidc_models', client, {
        id: CLIENT_ID('i'),
        client_id: CLIENT_ID('i'),
        payload: `json_set(@tpl_payload, '$.client_id', ${CLIENT_ID('i')})`,
      }),
      generator(db, 'client_state', state, { client_id: CLIENT_ID('i') }),
    ]);
    inBatches(db, grants, [
      generator(db, 'oidc_models', grant, {
        id: GRANT_ID('i'),
        account_id: USER_ID(owner),
        client_id: CLIENT_ID(agent),
        payload: `json_set(@tpl_payload, '$.jti', ${GRANT_ID('i')}, '$.accountId', ${USER_ID(owner)}, '$.clientId', ${CLIENT_ID(agent)})`,
      }),
      generator(db, 'oidc_models', refresh, {
        id: TOKEN_ID('i'),
        grant_id: GRANT_ID('i'),
        account_id: USER_ID(owner),
        client_id: CLIENT_ID(agent),
        payload: `json_set(@tpl_payload, '$.jti', ${TOKEN_ID('i')}, '$.grantId', ${GRANT_ID('i')}, '$.accountId', ${USER_ID(owner)}, '$.clientId', ${CLIENT_ID(agent)})`,
      }),
      generator(db, 'grant_records', record, {
        id: GRANT_ID('i'),
        account_id: USER_ID(owner),
        client_id: CLIENT_ID(agent),
      }),
    ]);
    db.pragma('journal_mode = WAL');
    const count = (sql) => db.prepare(sql).get().n;
    return {
      seconds: Math.round((performance.now() - started) / 100) / 10,
      users: count('SELECT count(*) AS n FROM users'),
      grants: count("SELECT count(*) AS n FROM oidc_models WHERE model = 'Grant'"),
      refreshTokens: count("SELECT count(*) AS n FROM oidc_models WHERE model = 'RefreshToken'"),
      clients: count("SELECT count(*) AS n FROM oidc_models WHERE model = 'Client'"),
      grantRecords: count('SELECT count(*) AS n FROM grant_records'),
    };
  } finally {
    db.close();
  }
}
