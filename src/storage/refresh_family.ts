// The refresh-token family of a grant: which rotated-out token led to which successor, when, from
// where and how often it was presented (docs/pitfalls.md#refresh-token-reuse-and-racing-agents).
// The first rotation claims its row with one INSERT, so two server processes on one database agree
// on a single successor.
import type { Db } from './db.js';

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
  claim(c: RotationClaim): { successor: string; first: boolean };
  /** The successor recorded for a rotated-out token, if any. */
  successorOf(predecessor: string): string | undefined;
  /** One more presentation of a rotated-out token inside the grace window. */
  presented(predecessor: string, at: number, ip: string | null): void;
  family(grantId: string, limit?: number): RotationView[];
  /**
   * Drops rotations of grants that have no provider rows left (revoked or expired), and rotations
   * older than `before` (epoch seconds): long past their grace window, kept only for the console.
   */
  purgeOrphans(before: number): number;
}

export function createRefreshFamilyRepository(db: Db): RefreshFamilyRepository {
  const insert = db.prepare(`INSERT INTO refresh_rotations
    (predecessor, successor, grant_id, client_id, rotation, rotated_at, ip, last_ip, last_presented_at)
    VALUES (@predecessor, @successor, @grantId, @clientId, @rotation, @at, @ip, @ip, @at)
    ON CONFLICT (predecessor) DO NOTHING`);
  const successor = db.prepare('SELECT successor FROM refresh_rotations WHERE predecessor = ?');
  const present = db.prepare(`UPDATE refresh_rotations SET presentations = presentations + 1,
    addresses = addresses + (CASE WHEN @ip IS NOT NULL AND @ip IS NOT last_ip AND @ip IS NOT ip THEN 1 ELSE 0 END),
    last_ip = COALESCE(@ip, last_ip), last_presented_at = @at WHERE predecessor = @predecessor`);
  const family = db.prepare(`SELECT rotation, rotated_at, ip, presentations, addresses, last_ip, last_presented_at
    FROM refresh_rotations WHERE grant_id = ? ORDER BY rotated_at DESC, rotation DESC LIMIT ?`);
  const purge = db.prepare(`DELETE FROM refresh_rotations WHERE rotated_at < ? OR grant_id NOT IN
    (SELECT grant_id FROM oidc_models WHERE grant_id IS NOT NULL)`);
  return {
    claim(c) {
      const first = insert.run(c).changes === 1;
      if (first) return { successor: c.successor, first };
      const row = successor.get(c.predecessor) as { successor: string };
      return { successor: row.successor, first };
    },
    successorOf(predecessor) {
      return (successor.get(predecessor) as { successor: string } | undefined)?.successor;
    },
    presented(predecessor, at, ip) {
      present.run({ predecessor, at, ip });
    },
    family(grantId, limit = 50) {
      const rows = family.all(grantId, limit) as {
        rotation: number;
        rotated_at: number;
        ip: string | null;
        presentations: number;
        addresses: number;
        last_ip: string | null;
        last_presented_at: number;
      }[];
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
    purgeOrphans(before) {
      return purge.run(before).changes;
    },
  };
}
