// The group and tool-label repositories on a real migrated database: membership counts both ways
// (added by an admin, named by an identity provider's group claim), policies follow membership,
// and removing a group takes its members and policy with it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combinedPolicy } from '../../src/lib/group_policy.js';
import type { Sql } from '../../src/storage/engine.js';
import { createGroupRepository } from '../../src/storage/groups.js';
import { createToolLabelRepository } from '../../src/storage/tool_labels.js';
import { tempTestStorage } from '../support/storage.js';

describe('group and tool-label storage', () => {
  let storage: Awaited<ReturnType<typeof tempTestStorage>>;
  let sql: Sql;

  beforeAll(async () => {
    storage = await tempTestStorage();
    sql = storage.sql;
    for (const [id, name] of [
      ['u1', 'alice'],
      ['u2', 'bob'],
      ['u3', 'carol'],
    ]) {
      await sql.run('INSERT INTO users (id, username, password_hash, created_at, updated_at) VALUES (?, ?, ?, 1, 1)', [
        id as string,
        name as string,
        'x',
      ]);
    }
    await sql.run("INSERT INTO resources (uri, name, created_at) VALUES ('https://mcp.example.com/mcp', 'M', 1)");
  });
  afterAll(() => storage?.close());

  it('counts admin-added and provider-named members once each, and finds their policies', async () => {
    const groups = createGroupRepository(sql);
    const eng = await groups.create('eng', 'Engineering', 'admin:alice', 10);
    const ops = await groups.create('/corp/ops', '', 'admin:alice', 10);
    expect(eng && ops).toBeTruthy();
    if (!eng || !ops) return;
    expect(await groups.create('eng', 'again', 'admin:alice', 11)).toBeUndefined();

    expect(await groups.addMember(eng.id, 'u1', 'admin:alice', 12)).toBe(true);
    expect(await groups.addMember(eng.id, 'u1', 'admin:alice', 12)).toBe(false);
    await groups.setUpstreamGroups('u1', 'https://idp.example.com', ['eng', 'other']);
    await groups.setUpstreamGroups('u2', 'https://idp.example.com', ['eng', '/corp/ops']);

    const members = await groups.members(eng);
    expect(members.map((m) => [m.username, m.source])).toEqual([
      ['alice', 'admin'],
      ['bob', 'sso'],
    ]);
    expect((await groups.memberIds(ops)).sort()).toEqual(['u2']);
    expect((await groups.list()).map((g) => [g.name, g.members])).toEqual([
      ['/corp/ops', 1],
      ['eng', 2],
    ]);
    expect((await groups.groupsOf('u2')).map((g) => g.name)).toEqual(['/corp/ops', 'eng']);
    expect(await groups.groupsOf('u3')).toEqual([]);

    await groups.setPolicy(eng.id, { resources: null, scopes: ['mcp:read', 'mcp:write'], readOnly: false }, 'cli', 20);
    const opsPolicy = await groups.setPolicy(ops.id, { resources: null, scopes: null, readOnly: true }, 'cli', 20);
    expect(opsPolicy.groupName).toBe('/corp/ops');
    const forBob = await groups.policiesFor('u2');
    expect(forBob.map((p) => p.groupName).sort()).toEqual(['/corp/ops', 'eng']);
    expect(combinedPolicy({ resources: null, scopes: ['mcp:write'], readOnly: false }, forBob)).toEqual({
      resources: null,
      scopes: ['mcp:write'],
      readOnly: true,
    });

    // The provider's next answer replaces what it said before.
    await groups.setUpstreamGroups('u2', 'https://idp.example.com', []);
    expect(await groups.policiesFor('u2')).toEqual([]);

    expect(await groups.remove(eng.id)).toBe(true);
    expect((await groups.listPolicies()).map((p) => p.groupName)).toEqual(['/corp/ops']);
    expect(await groups.policiesFor('u1')).toEqual([]);
  });

  it('labels tools of a registered MCP server only', async () => {
    const labels = createToolLabelRepository(sql);
    const uri = 'https://mcp.example.com/mcp';
    expect(await labels.set(uri, 'delete_customer', 'personal_data', 'cli', 1)).toBe(true);
    expect(await labels.set(uri, 'delete_customer', 'confidential', 'cli', 2)).toBe(true);
    expect(await labels.set('https://nope.example.com/mcp', 'x', 'public', 'cli', 2)).toBe(false);
    expect(await labels.labelOf(uri, 'delete_customer')).toBe('confidential');
    expect(await labels.count(uri)).toBe(1);
    expect(await labels.set(uri, 'delete_customer', null, 'cli', 3)).toBe(true);
    expect(await labels.forResource(uri)).toEqual([]);
  });
});
