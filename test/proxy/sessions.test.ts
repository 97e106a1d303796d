// Session bindings, directly: the creator's user and agent only, first binder wins, idle bindings
// expire by the injected clock, the least recently used one goes at the size bound.
import { describe, expect, it } from 'vitest';
import { createSessionBindings } from '../../src/proxy/sessions.js';

const alice = { sub: 'alice', clientId: 'agent-1' };

describe('session bindings', () => {
  it('answers ok only for the owner, mismatch for another user or agent, unknown for anything never bound', () => {
    const s = createSessionBindings();
    s.bind('s1', alice);
    s.bind('s1', { sub: 'mallory', clientId: 'agent-1' }); // a later bind never takes it over
    const cases: [id: string, owner: { sub: string; clientId: string }, expected: string][] = [
      ['s1', alice, 'ok'],
      ['s1', { sub: 'bob', clientId: 'agent-1' }, 'mismatch'],
      ['s1', { sub: 'alice', clientId: 'agent-2' }, 'mismatch'],
      ['s1', { sub: 'mallory', clientId: 'agent-1' }, 'mismatch'],
      ['S1', alice, 'unknown'],
      ['s2', alice, 'unknown'],
      ['', alice, 'unknown'],
    ];
    for (const [id, owner, expected] of cases)
      expect(s.check(id, owner), `${id} ${owner.sub}/${owner.clientId}`).toBe(expected);
  });

  it('forgets a binding idle for longer than idleMs; each use keeps it alive', () => {
    let t = 0;
    const s = createSessionBindings({ idleMs: 1000, now: () => t });
    s.bind('s1', alice);
    const steps: [at: number, expected: string][] = [
      [1000, 'ok'], // exactly idleMs: still there (and touched)
      [2000, 'ok'],
      [3001, 'unknown'], // idle for 1001 ms: gone
      [3002, 'unknown'],
    ];
    for (const [at, expected] of steps) {
      t = at;
      expect(s.check('s1', alice), `at ${at}`).toBe(expected);
    }
    expect(s.size()).toBe(0);
  });

  it('drops the least recently used binding at the size bound, and on drop()', () => {
    const s = createSessionBindings({ max: 2 });
    s.bind('a', alice);
    s.bind('b', alice);
    expect(s.check('a', alice)).toBe('ok'); // a is now the most recently used
    s.bind('c', alice);
    expect([s.check('a', alice), s.check('b', alice), s.check('c', alice)]).toEqual(['ok', 'unknown', 'ok']);
    s.drop('a');
    expect(s.check('a', alice)).toBe('unknown');
    expect(s.size()).toBe(1);
  });
});
