// The `mcp-oauth` command line. Builds a fresh commander program per call and never exits the
// process: the exit code is returned, so tests run it in-process.
import { Command, CommanderError, Help } from 'commander';
import { registerAdminCommands } from './admin.js';
import { registerApprovalCommands } from './approvals.js';
import { registerAuditCommand } from './audit.js';
import { registerBackupCommand } from './backup.js';
import { registerClientCommands } from './clients.js';
import { registerDbCommands } from './db_copy.js';
import { registerDoctorCommand } from './doctor.js';
import { registerGrantCommands } from './grants.js';
import { registerGroupCommands } from './groups.js';
import { ROOT_HELP } from './help_text.js';
import { CliError, type CliIo, safe } from './io.js';
import { registerKeyCommands } from './keys.js';
import { registerMaintenanceCommands } from './maintenance.js';
import { registerPolicyCommands } from './policy.js';
import { registerResourceCommands } from './resources.js';
import { registerServeCommand } from './serve.js';
import { registerUserCommands } from './users.js';

export type { CliIo } from './io.js';

// Failures the user can fix: one line, no stack trace.
const EXPECTED = new Set([
  'CliError',
  'ConfigError',
  'MigrationError',
  'UserExistsError',
  'ResourceExistsError',
  'SqliteError',
  'DoctorFailed',
]);

// Repeatable options start from an empty list; "(default: [])" in their help says nothing.
// (A plain object: commander copies its own properties onto the Help of every subcommand.)
const helpConfig = {
  optionDescription(this: Help, option: Parameters<Help['optionDescription']>[0]): string {
    return Help.prototype.optionDescription.call(this, option).replace(' (default: [])', '');
  },
};

const oneLine = (message: string) => safe(message.trim().replace(/\s*\n\s*/g, ' '));

// Grant and client ids from oidc-provider may start with '-', which commander reads as an option.
function withDashHint(message: string): string {
  return /^unknown option '-[^-]/.test(message)
    ? `${message.trim()} (an id that starts with '-' goes after --)`
    : message;
}

function buildProgram(io: CliIo): Command {
  // Subcommands copy these settings when created, so they come first.
  const program = new Command('mcp-oauth')
    .description('OAuth 2.1 authorization server for MCP agents')
    .exitOverride()
    .configureHelp(helpConfig)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`mcp-oauth: ${oneLine(withDashHint(s.replace(/^error: /, '')))}\n`),
    });
  registerServeCommand(program, io);
  registerUserCommands(program, io);
  registerResourceCommands(program, io);
  registerClientCommands(program, io);
  registerKeyCommands(program, io);
  registerGrantCommands(program, io);
  registerPolicyCommands(program, io);
  registerGroupCommands(program, io);
  registerApprovalCommands(program, io);
  registerAuditCommand(program, io);
  registerMaintenanceCommands(program, io);
  registerBackupCommand(program, io);
  registerDbCommands(program, io);
  registerAdminCommands(program, io);
  registerDoctorCommand(program, io);
  // `mcp-oauth proxy` is dispatched by src/main.ts before this CLI (and the storage code) loads;
  // it is listed here so that --help shows it.
  program
    .command('proxy')
    .description('run the resource proxy in front of an MCP server (configured only by MCP_PROXY_* variables)')
    .action(() => {
      throw new CliError('start the resource proxy as its own process: mcp-oauth proxy');
    });
  program.addHelpText('after', ROOT_HELP);
  return program;
}

function isExpected(err: unknown): err is Error {
  if (!(err instanceof Error)) return false;
  // Node system errors (EACCES, ENOSPC, ...) name the file and the problem; a stack adds nothing.
  return EXPECTED.has(err.name) || typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // commander has already written its message (or the help) through configureOutput.
    if (err instanceof CommanderError) return err.exitCode;
    if (isExpected(err)) {
      io.stderr.write(`mcp-oauth: ${oneLine(err.message)}\n`);
      return 1;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`mcp-oauth: unexpected error: ${oneLine(message)}\n`);
    if (err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
