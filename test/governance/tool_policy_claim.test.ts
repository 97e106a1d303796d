// The pure parts of tool labels and group policy: the claim the server puts in tokens, how the
// proxy reads it back (fail closed on anything it did not issue), and how policies combine.
import { describe, expect, it } from 'vitest';
import { combinedPolicy, groupNameProblem, upstreamGroupNames } from '../../src/lib/group_policy.js';
import { readToolPolicyClaim, toolPolicyClaim } from '../../src/lib/tool_labels.js';

const RULES = { deny: ['personal_data'], readOnly: ['confidential'], secondFactor: ['confidential', 'internal'] };

describe('the mcp_tool_policy claim', () => {
  it('lists each labelled tool under its rules, sorted, and leaves out labels without a rule', () => {
    expect(
      toolPolicyClaim(
        [
          { tool: 'export', label: 'personal_data' },
          { tool: 'update', label: 'confidential' },
          { tool: 'audit', label: 'internal' },
          { tool: 'about', label: 'public' },
          { tool: 'delete', label: 'confidential' },
        ],
        RULES,
      ),
    ).toEqual({ deny: ['export'], no_write: ['delete', 'update'], mfa: ['audit', 'delete', 'update'] });
    expect(toolPolicyClaim([{ tool: 'about', label: 'public' }], RULES)).toBeUndefined();
    expect(toolPolicyClaim([], RULES)).toBeUndefined();
  });

  it('reads back what it issues and refuses anything else', () => {
    expect(readToolPolicyClaim(undefined)).toMatchObject({ deny: new Set(), noWrite: new Set(), mfa: new Set() });
    expect(readToolPolicyClaim({ deny: ['a'], mfa: ['b'] })).toMatchObject({
      deny: new Set(['a']),
      noWrite: new Set(),
      mfa: new Set(['b']),
    });
    for (const bad of [null, 'deny', ['a'], { deny: 'a' }, { deny: [1] }, { no_write: ['a b'] }, { mfa: [''] }]) {
      expect(readToolPolicyClaim(bad), JSON.stringify(bad)).toBeUndefined();
    }
    expect(readToolPolicyClaim({ deny: Array.from({ length: 201 }, (_, i) => `t${i}`) })).toBeUndefined();
  });
});

describe('group policy', () => {
  it('combines the agent’s and every group’s policy: the narrower wins', () => {
    expect(combinedPolicy(undefined, [])).toBeUndefined();
    expect(
      combinedPolicy({ resources: ['https://a/mcp', 'https://b/mcp'], scopes: null, readOnly: false }, [
        { resources: ['https://b/mcp'], scopes: ['r', 'w'], readOnly: false },
        { resources: null, scopes: ['r'], readOnly: true },
      ]),
    ).toEqual({ resources: ['https://b/mcp'], scopes: ['r'], readOnly: true });
  });

  it('accepts group names as identity providers send them, and drops other claim values', () => {
    expect(groupNameProblem('/corp/contractors')).toBeUndefined();
    expect(groupNameProblem('8f2a-uuid')).toBeUndefined();
    for (const bad of ['', ' a', 'a ', 'a\nb', 'x'.repeat(257), 7]) expect(groupNameProblem(bad)).toBeDefined();
    expect(upstreamGroupNames(['a', 'a', 7, '', 'b'])).toEqual({ names: ['a', 'b'], dropped: 0 });
    expect(upstreamGroupNames('solo')).toEqual({ names: ['solo'], dropped: 0 });
    expect(upstreamGroupNames(undefined)).toEqual({ names: [], dropped: 0 });
    expect(upstreamGroupNames(['a', 'b', 'c'], 2)).toEqual({ names: ['a', 'b'], dropped: 1 });
  });
});
