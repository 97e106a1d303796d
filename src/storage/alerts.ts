// Alerts raised from the audit trail (src/audit/alerts.ts): one row each, raised once per `dedupe` key.
import type { Sql } from './engine.js';

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
  raise(a: NewAlert): Promise<Alert | undefined>;
  list(opts?: { open?: boolean; limit?: number }): Promise<Alert[]>;
  find(id: number): Promise<Alert | undefined>;
  /** True when it was open and is now acknowledged. */
  acknowledge(id: number, by: string, at: number): Promise<boolean>;
  countOpen(): Promise<number>;
}

const INSERT = `INSERT INTO alerts (at, kind, user_id, client_id, grant_id, ip, details, dedupe)
  VALUES (@at, @kind, @userId, @clientId, @grantId, @ip, @details, @dedupe) ON CONFLICT (dedupe) DO NOTHING
  RETURNING *`;
const BY_ID = 'SELECT * FROM alerts WHERE id = ?';
const ALL = 'SELECT * FROM alerts ORDER BY at DESC, id DESC LIMIT ?';
const OPEN = 'SELECT * FROM alerts WHERE acknowledged_at IS NULL ORDER BY at DESC, id DESC LIMIT ?';
const ACK = 'UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ? AND acknowledged_at IS NULL';
const COUNT_OPEN = 'SELECT COUNT(*) AS n FROM alerts WHERE acknowledged_at IS NULL';

export function createAlertRepository(sql: Sql): AlertRepository {
  return {
    async raise(a) {
      // RETURNING gives the new row in the same statement; no row when the dedupe key was taken.
      const row = await sql.get<Row>(INSERT, {
        at: a.at,
        kind: a.kind,
        userId: a.userId ?? null,
        clientId: a.clientId ?? null,
        grantId: a.grantId ?? null,
        ip: a.ip ?? null,
        details: a.details ? JSON.stringify(a.details) : null,
        dedupe: a.dedupe,
      });
      return row ? toAlert(row) : undefined;
    },
    async list(opts = {}) {
      const limit = opts.limit ?? 200;
      return (await sql.all<Row>(opts.open ? OPEN : ALL, [limit])).map(toAlert);
    },
    async find(id) {
      const row = await sql.get<Row>(BY_ID, [id]);
      return row ? toAlert(row) : undefined;
    },
    async acknowledge(id, by, at) {
      return (await sql.run(ACK, [at, by, id])).changes === 1;
    },
    async countOpen() {
      return (await sql.get<{ n: number }>(COUNT_OPEN))?.n ?? 0;
    },
  };
}
