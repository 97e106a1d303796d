// `mcp-oauth doctor ISSUER [--resource URL]... [--client-metadata-url URL] [--test-user-file PATH]
// [--json]`: checks a deployment from the outside, the way real agents will use it
// (src/cli/doctor_checks.ts, src/cli/doctor_quirks.ts, src/cli/doctor_test_user.ts;
// docs/operating.md#doctor). Reads no configuration and no database, so it runs from any machine,
// and in CI with --json. The exit code is 1 when anything fails. The test user's password comes
// from a file, never from the command line (where `ps` and shell history would show it).
import type { Command } from 'commander';
import { type DoctorInput, type Finding, runDoctor } from './doctor_checks.js';
import { createProbe, type Probe } from './doctor_probe.js';
import { agentQuirks } from './doctor_quirks.js';
import { readTestUserFile } from './doctor_test_user.js';
import { CliError, type CliIo, printJson, printLine, safe } from './io.js';

const DEFAULT_ORIGIN = 'https://doctor.mcp-oauth.invalid';

interface Options {
  resource: string[];
  clientMetadataUrl?: string;
  origin?: string;
  testUserFile?: string;
  json?: boolean;
}

export function registerDoctorCommand(program: Command, io: CliIo, probe: () => Probe = () => createProbe()): void {
  program
    .command('doctor')
    .description('check a deployment from the outside as real agents use it: metadata, TLS, clock, CORS, quirks')
    .argument('<issuer>', 'the issuer URL exactly as agents see it')
    .option('--resource <url>', 'public URL of an MCP server behind a proxy route (repeatable)', collect, [])
    .option('--client-metadata-url <url>', 'a Client ID Metadata Document URL to try as an agent would')
    .option('--origin <origin>', `the Origin a browser-based agent sends (default ${DEFAULT_ORIGIN})`)
    .option(
      '--test-user-file <path>',
      'a file holding username:password of a dedicated test account: enables the parallel-refresh and step-up replays',
    )
    .option('--json', 'print JSON (for CI); the exit code is 1 when a check fails')
    .action(async (issuer: string, opts: Options) => {
      const failed = await doctor(
        io,
        probe(),
        {
          issuer,
          resources: opts.resource,
          clientMetadataUrl: opts.clientMetadataUrl,
          origin: opts.origin ?? DEFAULT_ORIGIN,
          testUser: opts.testUserFile === undefined ? undefined : await readTestUserFile(opts.testUserFile),
        },
        opts.json === true,
      );
      if (failed) throw new DoctorFailed();
    });
}

/** The exit code without a second message: the findings said it. */
export class DoctorFailed extends CliError {
  override name = 'DoctorFailed';
  constructor() {
    super('some checks failed');
  }
}

const collect = (value: string, previous: string[]) => [...previous, value];

async function doctor(io: CliIo, probe: Probe, input: DoctorInput, json: boolean): Promise<boolean> {
  const origin = URL.parse(input.origin);
  if (!origin || origin.origin !== input.origin)
    throw new CliError('--origin must be an origin like https://app.example.com');
  const findings = await runDoctor(input, probe, agentQuirks);
  const failed = findings.some((f) => f.status === 'fail');
  if (json) {
    printJson(io, { issuer: input.issuer, ok: !failed, findings });
    return failed;
  }
  for (const f of findings) printFinding(io, f);
  const count = (s: Finding['status']) => findings.filter((f) => f.status === s).length;
  printLine(
    io,
    `\n${count('pass')} passed, ${count('warn')} warnings, ${count('fail')} failed, ${count('skip')} skipped`,
  );
  return failed;
}

function printFinding(io: CliIo, f: Finding): void {
  printLine(io, `${f.status.toUpperCase().padEnd(4)}  ${safe(f.id)}: ${safe(f.summary)}`);
  if (f.agents) printLine(io, `      would fail for: ${f.agents}`);
  if (f.fix) printLine(io, `      fix: ${f.fix}`);
}
