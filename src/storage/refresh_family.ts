// The refresh-token family of a grant: which rotated-out token led to which successor, when, from
// where and how often it was presented (docs/pitfalls.md#refresh-token-reuse-and-racing-agents).
// The first rotation claims its row with one INSERT, so two server processes on one database agree
// on a single successor.
import type { Sql } from './engine.js';

export interface RotationClaim {
  predecessor: string;
  successor: string;
  grantId: string;
  clientId: string | null;
  rotation: number;
  at: number;
  ip: string | null;
}

/** A rotation as the console shows it: no token values. */
export interface RotationView {
  rotation: number;
  rotatedAt: number;
  ip: string | null;
  presentations: number;
  addresses: number;
  lastIp: string | null;
  lastPresentedAt: number;
}

export interface RefreshFamilyRepository {
  /** Records the rotation unless one is recorded already; returns the successor that stands. */
  claim(c: RotationClaim): Promise<{ successor: string; first: boolean }>;
  /** The successor recorded for a rotated-out token, if any. */
  successorOf(predecessor: string): Promise<string | undefined>;
  /** One more presentation of a rotated-out token inside the grace window. */
  presented(predecessor: string, at: number, ip: string | null): Promise<void>;
  family(grantId: string, limit?: number): Promise<RotationView[]>;
  /**
   * Drops rotations of grants that have no provider rows left (revoked or expired), and rotations
   * older than `before` (epoch seconds): long past their grace window, kept only for the console.
   */
  purgeOrphans(before: number): Promise<number>;
}

const INSERT = `INSERT INTO refresh_rotations
  (predecessor, successor, grant_id, client_id, rotation, rotated_at, ip, last_ip, last_presented_at)
  VALUES (@predecessor, @successor, @grantId, @clientId, @rotation, @at, @ip, @ip, @at)
  ON CONFLICT (predecessor) DO NOTHING`;
const SUCCESSOR = 'SELECT successor FROM refresh_rotations WHERE predecessor = ?';
// The CAST gives PostgreSQL the parameter's type, which `@ip IS NOT NULL` alone does not
// ("could not determine data type of parameter").
const PRESENT = `UPDATE refresh_rotations SET presentations = presentations + 1,
  addresses = addresses + (CASE WHEN CAST(@ip AS TEXT) IS NOT NULL AND @ip IS DISTINCT FROM last_ip AND @ip IS DISTINCT FROM ip THEN 1 ELSE 0 END),
  last_ip = COALESCE(@ip, last_ip), last_presented_at = @at WHERE predecessor = @predecessor`;
const FAMILY = `SELECT rotation, rotated_at, ip, presentations, addresses, last_ip, last_presented_at
  FROM refresh_rotations WHERE grant_id = ? ORDER BY rotated_at DESC, rotation DESC LIMIT ?`;
const PURGE = `DELETE FROM refresh_rotations WHERE rotated_at < ? OR grant_id NOT IN
  (SELECT grant_id FROM oidc_models WHERE grant_id IS NOT NULL)`;

export function createRefreshFamilyRepository(sql: Sql): RefreshFamilyRepository {
  const successorOf = async (predecessor: string) =>
    (await sql.get<{ successor: string }>(SUCCESSOR, [predecessor]))?.successor;
  return {
    async claim(c) {
      const first = (await sql.run(INSERT, { ...c })).changes === 1;
      if (first) return { successor: c.successor, first };
      return { successor: (await successorOf(c.predecessor)) as string, first };
    },
    successorOf,
    async presented(predecessor, at, ip) {
      await sql.run(PRESENT, { predecessor, at, ip });
    },
    async family(grantId, limit = 50) {
      const rows = await sql.all<{
        rotation: number;
        rotated_at: number;
        ip: string | null;
        presentations: number;
        addresses: number;
        last_ip: string | null;
        last_presented_at: number;
      }>(FAMILY, [grantId, limit]);
      return rows.map((r) => ({
        rotation: r.rotation,
        rotatedAt: r.rotated_at,
        ip: r.ip,
        presentations: r.presentations,
        addresses: r.addresses,
        lastIp: r.last_ip,
        lastPresentedAt: r.last_presented_at,
      }));
    },
    async purgeOrphans(before) {
      return (await sql.run(PURGE, [before])).changes;
    },
  };
}
