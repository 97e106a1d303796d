// Only this file's own imports run before the test: oidc-provider is first loaded inside it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { withoutRuntimeWarning } from '../../src/cli/runtime_warning.js';

const UNSUPPORTED = 'oidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release.';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the "Unsupported runtime" warning', () => {
  it('is not printed when the CLI (and with it oidc-provider) loads', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { runCli } = await withoutRuntimeWarning(() => import('../../src/cli/index.js'));
    expect(typeof runCli).toBe('function');
    // Imported for real: the provider's module ran its runtime check inside the call above.
    await import('oidc-provider');
    expect(warn.mock.calls.flat().join('\n')).not.toContain('Unsupported runtime');
  });

  it('is dropped on Node 20, plain or coloured, while every other warning passes', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const result = await withoutRuntimeWarning(async () => {
      console.warn(UNSUPPORTED);
      console.warn(`\x1b[31;1m${UNSUPPORTED}\x1b[0m`);
      console.warn('oidc-provider WARNING: something else');
      console.warn(UNSUPPORTED, 'with more');
      return 42;
    }, 20);
    expect(result).toBe(42);
    expect(warn.mock.calls).toEqual([['oidc-provider WARNING: something else'], [UNSUPPORTED, 'with more']]);
  });

  it('is only dropped while loading, and never on a runtime the project does not support', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    await withoutRuntimeWarning(async () => undefined, 20);
    console.warn(UNSUPPORTED);
    await withoutRuntimeWarning(async () => console.warn(UNSUPPORTED), 18);
    await withoutRuntimeWarning(async () => console.warn(UNSUPPORTED), 22);
    expect(warn.mock.calls).toEqual([[UNSUPPORTED], [UNSUPPORTED], [UNSUPPORTED]]);
  });

  it('restores console.warn when loading fails', async () => {
    const before = console.warn;
    await expect(withoutRuntimeWarning(() => Promise.reject(new Error('broken')), 20)).rejects.toThrow('broken');
    expect(console.warn).toBe(before);
  });
});
