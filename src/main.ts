#!/usr/bin/env node
// `mcp-oauth proxy` is dispatched before the CLI is loaded: the resource proxy is a separate
// process that must not load the authorization server's storage or provider code.
if (process.argv[2] === 'proxy') {
  const rest = process.argv.slice(3);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(
      'Usage: mcp-oauth proxy\n\nRuns the resource proxy in front of an MCP server. Configured only from the\nenvironment (MCP_PROXY_*; see the README section "Resource proxy").\n',
    );
  } else if (rest.length > 0) {
    process.stderr.write('mcp-oauth proxy: takes no arguments; configure it with MCP_PROXY_* variables\n');
    process.exitCode = 2;
  } else {
    const { runProxy } = await import('./proxy/main.js');
    process.exitCode = await runProxy(process.env);
  }
} else {
  const { withoutRuntimeWarning } = await import('./cli/runtime_warning.js');
  const { runCli } = await withoutRuntimeWarning(() => import('./cli/index.js'));
  process.exitCode = await runCli(process.argv.slice(2), {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
  });
}
