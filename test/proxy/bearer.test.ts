// The one Bearer parser (src/lib/bearer.ts), by RFC 6750 §2.1's grammar.
import { describe, expect, it } from 'vitest';
import { parseBearer } from '../../src/lib/bearer.js';

describe('parseBearer', () => {
  const cases: [header: string | string[] | undefined, expected: ReturnType<typeof parseBearer>][] = [
    [undefined, { kind: 'none' }],
    ['', { kind: 'none' }],
    ['Basic dXNlcjpwYXNz', { kind: 'none' }],
    ['Bearerabc', { kind: 'none' }],
    ['Bearer abc.def-ghi_jkl~mno+pqr/stu', { kind: 'token', token: 'abc.def-ghi_jkl~mno+pqr/stu' }],
    ['bearer abc', { kind: 'token', token: 'abc' }],
    ['BEARER abc==', { kind: 'token', token: 'abc==' }],
    ['Bearer', { kind: 'malformed' }],
    ['Bearer ', { kind: 'malformed' }],
    ['Bearer  abc', { kind: 'malformed' }],
    ['Bearer abc ', { kind: 'malformed' }],
    ['Bearer\tabc', { kind: 'malformed' }],
    ['Bearer abc def', { kind: 'malformed' }],
    ['Bearer abc,Bearer def', { kind: 'malformed' }],
    ['Bearer a=b', { kind: 'malformed' }],
    ['Bearer =abc', { kind: 'malformed' }],
    ['Bearer abc"', { kind: 'malformed' }],
    ['Bearer ab\u00e9', { kind: 'malformed' }],
    [['Bearer abc', 'Bearer def'], { kind: 'malformed' }],
  ];
  for (const [header, expected] of cases) {
    it(JSON.stringify(header) ?? 'undefined', () => expect(parseBearer(header)).toEqual(expected));
  }
});
