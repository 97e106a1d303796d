// Renders docs/configuration.md from the setting schemas, so the reference cannot drift from the
// code: `npm run docs:config` writes it, test/config/docs.test.ts fails while the committed file
// is stale. Pure: no I/O here (scripts/gen-config-docs.mjs writes the file).
import type { z } from 'zod';
import { proxySettings } from './proxy_settings.js';
import { type SettingGroup, type SettingLeaf, settingGroups } from './read.js';
import { serverSettings } from './server_settings.js';

const INTRO = `# Configuration reference

<!-- Generated from src/config/server_settings.ts and src/config/proxy_settings.ts by
     \`npm run docs:config\`. Do not edit: change the schemas and run it again. -->

Both processes are configured only through environment variables. Every variable is checked at
start; a bad value stops the process with one message that names every bad variable and why. An
empty variable counts as unset. Secrets are read from the variable or from the file named by the
same variable with \`_FILE\` appended (for Docker and Kubernetes secrets), never from the command
line, and never appear in a message or a log.

Durations are whole seconds (\`300\`), or a number with a unit: \`300s\`, \`5m\`, \`12h\`, \`30d\`.
`;

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function variableCell(meta: SettingLeaf['meta']): string {
  return meta.secret ? `\`${meta.env}\` or \`${meta.env}_FILE\`` : `\`${meta.env}\``;
}

function defaultCell(meta: SettingLeaf['meta']): string {
  if (meta.required !== undefined) return 'required';
  if (meta.default === undefined || meta.default === '') return '';
  return `\`${meta.default}\``;
}

function renderGroup(group: SettingGroup, depth: number): string {
  const heading = `${'#'.repeat(depth)} ${group.title}`;
  const rows = group.settings.map(
    (s) => `| ${variableCell(s.meta)} | ${defaultCell(s.meta)} | ${cell(s.meta.values)} | ${cell(s.description)} |`,
  );
  return [
    heading,
    '',
    ...(group.description ? [group.description, ''] : []),
    '| Variable | Default | Accepts | Meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

function renderProcess(tree: z.ZodObject): string {
  const [top, ...groups] = settingGroups(tree);
  if (!top) return '';
  return [renderGroup(top, 2), ...groups.map((g) => renderGroup(g, 3))].join('\n');
}

/** The whole of docs/configuration.md. */
export function renderConfigDocs(): string {
  return [INTRO, renderProcess(serverSettings), renderProcess(proxySettings)].join('\n');
}
