// The one bounded cache map (src/lib/bounded_map.ts) behind the statement texts, the settings kept
// between requests, the alert rules' memories and the "last used" marks.
import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../../src/lib/bounded_map.js';

describe('BoundedMap', () => {
  it('never holds more than its limit: a new key at the limit starts it afresh', () => {
    const map = new BoundedMap<string, number>(3);
    for (const [i, key] of ['a', 'b', 'c'].entries()) map.set(key, i);
    expect(map.size).toBe(3);
    map.set('d', 3);
    expect([...map]).toEqual([['d', 3]]);
    for (let i = 0; i < 100; i++) map.set(`k${i}`, i);
    expect(map.size).toBeLessThanOrEqual(3);
  });

  it('replaces a key it holds without forgetting the others', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2).set('a', 3);
    expect([...map]).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
  });
});
