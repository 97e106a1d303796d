// What `mcp-oauth serve` says when nothing is set up yet (no admin, no MCP server): the exact
// commands to run next and where the pages are. Printed once at start, on stdout: plain text for a
// person at a terminal, one structured log line for a log collector.
import type { Logger } from '../log/logger.js';
import type { Sql } from '../storage/engine.js';

export interface FirstStartState {
  hasAdmin: boolean;
  hasResource: boolean;
}

/**
 * Reads what is set up from the server's own database (either engine); undefined when it cannot
 * be read (then nothing is said).
 */
export async function readFirstStartState(sql: Sql): Promise<FirstStartState | undefined> {
  try {
    const one = async (query: string) => (await sql.get(query)) !== undefined;
    return {
      hasAdmin: await one('SELECT 1 AS one FROM users WHERE is_admin = 1 AND disabled = 0 LIMIT 1'),
      hasResource: await one('SELECT 1 AS one FROM resources LIMIT 1'),
    };
  } catch {
    return undefined;
  }
}

/** The next steps, or an empty list when the server is set up. */
export function firstStartSteps(state: FirstStartState, issuer: string): string[] {
  if (state.hasAdmin && state.hasResource) return [];
  const steps: string[] = [];
  if (!state.hasAdmin)
    steps.push('create the first admin (the password is prompted for): mcp-oauth users add admin --admin');
  if (!state.hasResource) {
    steps.push(
      'add the MCP server agents will use, by its public URL: mcp-oauth resources add https://mcp.example.com/mcp --name "My MCP server"',
    );
  }
  steps.push(`sign in to the admin console at ${issuer}/admin; users see their connected agents at ${issuer}/account`);
  steps.push(`agents discover this server at ${issuer}/.well-known/oauth-authorization-server`);
  return steps;
}

export function firstStartText(steps: string[]): string {
  const lines = steps.map((step, i) => {
    const at = step.indexOf(': mcp-oauth ');
    // Commands on their own line, so they can be copied whole.
    const text = at < 0 ? step : `${step.slice(0, at)}:\n       ${step.slice(at + 2)}`;
    return `  ${i + 1}. ${text}`;
  });
  return `Nothing is set up yet. Next steps:\n${lines.join('\n')}\n`;
}

/** Says what to do next if the server is not set up; says nothing otherwise. */
export async function announceFirstStart(
  out: { write(s: string): void; isTTY?: boolean },
  log: Logger,
  issuer: string,
  sql: Sql,
): Promise<void> {
  const state = await readFirstStartState(sql);
  if (!state) return;
  const steps = firstStartSteps(state, issuer);
  if (steps.length === 0) return;
  if (out.isTTY === true) out.write(firstStartText(steps));
  else log.info({ event: 'first_start', next_steps: steps }, 'nothing is set up yet; see next_steps');
}
