// The settings kept in memory between token requests (src/storage/settings_cache.ts) on both
// engines: two connections to one database stand for this server and another writer (a second
// node, the CLI in another shell). Whatever either changes, the other sees at its next read, and a
// change that was rolled back never passes for a later one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAgentPolicyRepository } from '../../src/storage/agent_policies.js';
import type { Sql } from '../../src/storage/engine.js';
import { createResourceLabelRepository } from '../../src/storage/resource_labels.js';
import { createResourceRepository } from '../../src/storage/resources.js';
import { createToolLabelRepository } from '../../src/storage/tool_labels.js';
import { openTestStorage, type TestStorage } from '../support/storage.js';

const URI = 'https://mcp.example.com/mcp';
const SCOPES = [
  { scope: 'mcp:read', description: 'Read', isDefault: true, isWrite: false },
  { scope: 'mcp:write', description: 'Write', isDefault: false, isWrite: true },
];
const version = async (sql: Sql) =>
  String((await sql.get<{ version: number | string }>('SELECT version FROM settings_version WHERE id = 1'))?.version);

describe('settings kept between token requests', () => {
  let dataDir: string;
  let first: TestStorage;
  let second: TestStorage;
  /** This server's connection and another writer's, on one database. */
  let ours: Sql;
  let other: Sql;

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'mcp-oauth-settings-'));
    first = await openTestStorage(dataDir);
    second = await openTestStorage(dataDir);
    ours = first.sql;
    other = second.sql;
  });
  afterEach(async () => {
    await second?.close();
    await first?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('sees an MCP server, its scopes, descriptions and label change from another connection at the next read', async () => {
    const mine = createResourceRepository(ours);
    const theirs = createResourceRepository(other);
    const labels = createResourceLabelRepository(ours);
    await theirs.create(URI, 'Notes', SCOPES);
    expect((await mine.findByUri(URI))?.scopes.map((s) => s.scope)).toEqual(['mcp:read', 'mcp:write']);
    expect(await labels.labelOf(URI)).toBeUndefined();

    await theirs.describe(URI, 'ja', [{ scope: 'mcp:read', description: '読む' }]);
    expect((await mine.findByUri(URI))?.scopes[0]?.descriptions).toEqual({ ja: '読む' });
    await createResourceLabelRepository(other).set(URI, 'confidential', 'admin', 1);
    expect(await labels.labelOf(URI)).toBe('confidential');
    await theirs.remove(URI);
    expect(await mine.findByUri(URI)).toBeUndefined();
    expect(await labels.labelOf(URI)).toBeUndefined();
  });

  it('hands out kept values that cannot be changed in place', async () => {
    await createResourceRepository(other).create(URI, 'Notes', SCOPES);
    const kept = await createResourceRepository(ours).findByUri(URI);
    expect(() => kept?.scopes.push({ scope: 'x', description: 'x', isDefault: false, isWrite: false })).toThrow(
      TypeError,
    );
    expect((await createResourceRepository(ours).findByUri(URI))?.scopes).toHaveLength(2);
  });

  it('applies an agent policy and a tool label set by another writer at the next read', async () => {
    const policies = createAgentPolicyRepository(ours);
    await createResourceRepository(other).create(URI, 'Notes', SCOPES);
    expect(await policies.effectiveFor('agent-1')).toBeUndefined();
    await createAgentPolicyRepository(other).set(
      { kind: 'client', value: 'agent-1' },
      { resources: null, scopes: null, readOnly: true },
      'admin',
      1,
    );
    expect((await policies.effectiveFor('agent-1'))?.readOnly).toBe(true);

    const tools = createToolLabelRepository(ours);
    expect(await tools.forResource(URI)).toEqual([]);
    await createToolLabelRepository(other).set(URI, 'delete_all', 'confidential', 'admin', 1);
    expect((await tools.forResource(URI)).map((l) => [l.tool, l.label])).toEqual([['delete_all', 'confidential']]);
  });

  it('never takes a rolled-back change for a later one', async () => {
    const policies = createAgentPolicyRepository(ours);
    const match = { kind: 'client', value: 'agent-1' } as const;
    // Inside a transaction that is then rolled back, the policy is read (and could be kept) under
    // the version the transaction's own change gave the settings.
    await expect(
      ours.transaction(async () => {
        await policies.set(match, { resources: null, scopes: ['mcp:read'], readOnly: false }, 'admin', 1);
        expect((await policies.effectiveFor('agent-1'))?.scopes).toEqual(['mcp:read']);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await policies.effectiveFor('agent-1')).toBeUndefined();
    // The next change, by another writer: a counter would give it the rolled-back change's version.
    await createAgentPolicyRepository(other).set(
      match,
      { resources: null, scopes: ['mcp:write'], readOnly: false },
      'admin',
      2,
    );
    expect((await policies.effectiveFor('agent-1'))?.scopes).toEqual(['mcp:write']);
  });

  it('gives the settings a new version for every change to each table the token path keeps', async () => {
    const now = 1;
    await other.run("INSERT INTO resources (uri, name, created_at) VALUES ('https://a.example/mcp', 'A', 1)");
    const id = (await other.get<{ id: number }>("SELECT id FROM resources WHERE uri = 'https://a.example/mcp'"))?.id;
    await other.run("INSERT INTO user_groups (name, description, created_at, created_by) VALUES ('g', '', 1, 'admin')");
    const group = (await other.get<{ id: number }>("SELECT id FROM user_groups WHERE name = 'g'"))?.id;
    const changes: [string, string, (string | number)[]][] = [
      ['resources', 'UPDATE resources SET name = ? WHERE id = ?', ['B', Number(id)]],
      [
        'resource_scopes',
        'INSERT INTO resource_scopes (resource_id, scope, description, is_default, is_write, position) VALUES (?, ?, ?, 0, 0, 0)',
        [Number(id), 'mcp:read', 'Read'],
      ],
      [
        'resource_scope_descriptions',
        'INSERT INTO resource_scope_descriptions (resource_id, scope, lang, description) VALUES (?, ?, ?, ?)',
        [Number(id), 'mcp:read', 'ja', '読む'],
      ],
      [
        'resource_labels',
        'INSERT INTO resource_labels (resource_id, classification, updated_at, updated_by) VALUES (?, ?, ?, ?)',
        [Number(id), 'public', now, 'admin'],
      ],
      [
        'tool_labels',
        'INSERT INTO tool_labels (resource_id, tool, classification, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)',
        [Number(id), 't', 'public', now, 'admin'],
      ],
      [
        'agent_policies',
        'INSERT INTO agent_policies (match_kind, match_value, read_only, updated_at, updated_by) VALUES (?, ?, 1, ?, ?)',
        ['client', 'x', now, 'admin'],
      ],
      [
        'group_policies',
        'INSERT INTO group_policies (group_id, read_only, updated_at, updated_by) VALUES (?, 1, ?, ?)',
        [Number(group), now, 'admin'],
      ],
      ['user_groups', 'UPDATE user_groups SET description = ? WHERE id = ?', ['d', Number(group)]],
      ['tool_labels', 'DELETE FROM tool_labels WHERE resource_id = ?', [Number(id)]],
      ['resource_scope_descriptions', 'DELETE FROM resource_scope_descriptions WHERE resource_id = ?', [Number(id)]],
      ['agent_policies', 'UPDATE agent_policies SET read_only = 0', []],
      ['group_policies', 'DELETE FROM group_policies WHERE group_id = ?', [Number(group)]],
      ['resources', 'DELETE FROM resources WHERE id = ?', [Number(id)]],
    ];
    const seen = new Set([await version(ours)]);
    for (const [table, text, params] of changes) {
      await other.run(text, params);
      const now = await version(ours);
      expect(seen.has(now), `a change to ${table} (${text.split(' ')[0]}) gave the settings a new version`).toBe(false);
      seen.add(now);
    }
  });
});
