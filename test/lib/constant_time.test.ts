import { describe, expect, it } from 'vitest';
import { constantTimeEqual } from '../../src/lib/constant_time.js';

describe('constantTimeEqual', () => {
  it('is true only for the same value', () => {
    expect(constantTimeEqual('s3cret-token', 's3cret-token')).toBe(true);
    expect(constantTimeEqual('s3cret-token', 's3cret-tokeN')).toBe(false);
    expect(constantTimeEqual(Buffer.from('abc'), 'abc')).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
  });

  it('never throws on different lengths, empty values or values that are not secrets', () => {
    // node:crypto's timingSafeEqual throws RangeError on different lengths; this one answers false.
    expect(constantTimeEqual('short', 'a much longer secret value')).toBe(false);
    expect(constantTimeEqual('', 'x')).toBe(false);
    expect(constantTimeEqual('x'.repeat(100_000), 'x')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
    for (const odd of [undefined, null, 42, ['s3cret'], { toString: () => 's3cret' }]) {
      expect(constantTimeEqual(odd, 's3cret')).toBe(false);
    }
  });

  it('compares bytes, not normalised text', () => {
    // "é" precomposed vs decomposed: different bytes, so different secrets.
    expect(constantTimeEqual('\u00e9', 'e\u0301')).toBe(false);
    expect(constantTimeEqual('abc\0', 'abc')).toBe(false);
  });
});
