// The smallest durable adapter a deployment of bare oidc-provider could run on: one SQLite table
// (WAL, synchronous=NORMAL, as our server opens its database), the three lookups the adapter
// interface asks for (by uid, by user code, by grant) indexed, every call its own statement and
// commit. It is the baseline's "with storage" variant (BENCH_BASELINE_DB names its file): what
// persisting tokens costs a bare provider, so the cost of our own features can be told apart from
// the cost of durability.
import Database from 'better-sqlite3';

export function durableAdapterFactory(file) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE IF NOT EXISTS models (
    model TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL,
    grant_id TEXT, uid TEXT, user_code TEXT, expires_at INTEGER, consumed_at INTEGER,
    PRIMARY KEY (model, id));
  CREATE INDEX IF NOT EXISTS models_grant ON models (grant_id) WHERE grant_id IS NOT NULL;
  CREATE INDEX IF NOT EXISTS models_uid ON models (uid) WHERE uid IS NOT NULL;
  CREATE INDEX IF NOT EXISTS models_user_code ON models (user_code) WHERE user_code IS NOT NULL;`);
  const upsert = db.prepare(
    `INSERT INTO models (model, id, payload, grant_id, uid, user_code, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
       uid = excluded.uid, user_code = excluded.user_code, expires_at = excluded.expires_at`,
  );
  const byId = db.prepare('SELECT payload, expires_at, consumed_at FROM models WHERE model = ? AND id = ?');
  const byUid = db.prepare('SELECT payload, expires_at, consumed_at FROM models WHERE model = ? AND uid = ?');
  const byCode = db.prepare('SELECT payload, expires_at, consumed_at FROM models WHERE model = ? AND user_code = ?');
  const consume = db.prepare('UPDATE models SET consumed_at = ? WHERE model = ? AND id = ?');
  const destroy = db.prepare('DELETE FROM models WHERE model = ? AND id = ?');
  const revoke = db.prepare('DELETE FROM models WHERE grant_id = ?');
  const now = () => Math.floor(Date.now() / 1000);
  const read = (row) => {
    if (!row || (row.expires_at !== null && row.expires_at <= now())) return undefined;
    const payload = JSON.parse(row.payload);
    return row.consumed_at === null ? payload : { ...payload, consumed: row.consumed_at };
  };
  return (model) => ({
    async upsert(id, payload, expiresIn) {
      upsert.run(
        model,
        id,
        JSON.stringify(payload),
        payload.grantId ?? null,
        payload.uid ?? null,
        payload.userCode ?? null,
        expiresIn ? now() + expiresIn : null,
      );
    },
    async find(id) {
      return read(byId.get(model, id));
    },
    async findByUid(uid) {
      return read(byUid.get(model, uid));
    },
    async findByUserCode(code) {
      return read(byCode.get(model, code));
    },
    async consume(id) {
      consume.run(now(), model, id);
    },
    async destroy(id) {
      destroy.run(model, id);
    },
    async revokeByGrantId(grantId) {
      revoke.run(grantId);
    },
  });
}
