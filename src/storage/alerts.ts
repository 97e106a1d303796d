// Alerts raised from the audit trail (src/audit/alerts.ts): one row each, raised once per `dedupe` key.
import type { Db } from './db.js';

export type AlertDetails = Record<string, string | number | boolean | null>;

export interface NewAlert {
  kind: string;
  at: number;
  userId?: string | null | undefined;
  clientId?: string | null | undefined;
  grantId?: string | null | undefined;
  ip?: string | null | undefined;
  details?: AlertDetails | undefined;
  dedupe: string;
}

export interface Alert {
  id: number;
  kind: string;
  at: number;
  userId: string | null;
  clientId: string | null;
  grantId: string | null;
  ip: string | null;
  details: AlertDetails;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
}

interface Row {
  id: number;
  kind: string;
  at: number;
  user_id: string | null;
  client_id: string | null;
  grant_id: string | null;
  ip: string | null;
  details: string | null;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
}

const toAlert = (r: Row): Alert => ({
  id: r.id,
  kind: r.kind,
  at: r.at,
  userId: r.user_id,
  clientId: r.client_id,
  grantId: r.grant_id,
  ip: r.ip,
  details: r.details ? (JSON.parse(r.details) as AlertDetails) : {},
  acknowledgedAt: r.acknowledged_at,
  acknowledgedBy: r.acknowledged_by,
});

export interface AlertRepository {
  /** The new alert, or undefined when its dedupe key was raised already. */
  raise(a: NewAlert): Alert | undefined;
  list(opts?: { open?: boolean; limit?: number }): Alert[];
  find(id: number): Alert | undefined;
  /** True when it was open and is now acknowledged. */
  acknowledge(id: number, by: string, at: number): boolean;
  countOpen(): number;
}

export function createAlertRepository(db: Db): AlertRepository {
  const insert = db.prepare(`INSERT INTO alerts (at, kind, user_id, client_id, grant_id, ip, details, dedupe)
    VALUES (@at, @kind, @userId, @clientId, @grantId, @ip, @details, @dedupe) ON CONFLICT (dedupe) DO NOTHING`);
  const byId = db.prepare('SELECT * FROM alerts WHERE id = ?');
  const all = db.prepare('SELECT * FROM alerts ORDER BY at DESC, id DESC LIMIT ?');
  const open = db.prepare('SELECT * FROM alerts WHERE acknowledged_at IS NULL ORDER BY at DESC, id DESC LIMIT ?');
  const ack = db.prepare(
    'UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ? AND acknowledged_at IS NULL',
  );
  const countOpen = db.prepare('SELECT COUNT(*) AS n FROM alerts WHERE acknowledged_at IS NULL');
  return {
    raise(a) {
      const result = insert.run({
        at: a.at,
        kind: a.kind,
        userId: a.userId ?? null,
        clientId: a.clientId ?? null,
        grantId: a.grantId ?? null,
        ip: a.ip ?? null,
        details: a.details ? JSON.stringify(a.details) : null,
        dedupe: a.dedupe,
      });
      if (result.changes !== 1) return undefined;
      return toAlert(byId.get(result.lastInsertRowid) as Row);
    },
    list(opts = {}) {
      const limit = opts.limit ?? 200;
      return ((opts.open ? open : all).all(limit) as Row[]).map(toAlert);
    },
    find(id) {
      const row = byId.get(id) as Row | undefined;
      return row ? toAlert(row) : undefined;
    },
    acknowledge(id, by, at) {
      return ack.run(at, by, id).changes === 1;
    },
    countOpen() {
      return (countOpen.get() as { n: number }).n;
    },
  };
}
