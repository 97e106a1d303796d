// Binds each Mcp-Session-Id to the user and agent of the token whose request created it, so a
// session id presented with another user's or agent's token is refused. Idle bindings expire.
export interface SessionOwner {
  sub: string;
  clientId: string;
}

export interface SessionBindings {
  bind(id: string, owner: SessionOwner): void;
  /** 'unknown' when never seen (or expired), 'mismatch' when it belongs to someone else. */
  check(id: string, owner: SessionOwner): 'ok' | 'unknown' | 'mismatch';
  drop(id: string): void;
  size(): number;
}

export function createSessionBindings(
  opts: { idleMs?: number; max?: number; now?: () => number } = {},
): SessionBindings {
  const idleMs = opts.idleMs ?? 24 * 3600_000;
  const max = opts.max ?? 100_000;
  const now = opts.now ?? Date.now;
  const map = new Map<string, SessionOwner & { seen: number }>();
  const touch = (id: string, entry: SessionOwner & { seen: number }) => {
    // Re-insert so the Map's order is least recently used first.
    map.delete(id);
    entry.seen = now();
    map.set(id, entry);
  };
  return {
    bind(id, owner) {
      if (map.has(id)) return;
      while (map.size >= max) {
        const oldest = map.keys().next().value;
        if (oldest === undefined) break;
        map.delete(oldest);
      }
      map.set(id, { sub: owner.sub, clientId: owner.clientId, seen: now() });
    },
    check(id, owner) {
      const entry = map.get(id);
      if (!entry || now() - entry.seen > idleMs) {
        map.delete(id);
        return 'unknown';
      }
      if (entry.sub !== owner.sub || entry.clientId !== owner.clientId) return 'mismatch';
      touch(id, entry);
      return 'ok';
    },
    drop: (id) => void map.delete(id),
    size: () => map.size,
  };
}
