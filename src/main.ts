#!/usr/bin/env node
// `mcp-oauth proxy` is dispatched before the CLI is loaded: the resource proxy is a separate
// process that must not load the authorization server's storage or provider code.
if (process.argv[2] === 'proxy') {
  const rest = process.argv.slice(3);
  if (rest.includes('--help') || rest.includes('-h')) {
    // help_text.js imports nothing: the proxy still loads none of the server's code.
    const { PROXY_HELP } = await import('./cli/help_text.js');
    process.stdout.write(PROXY_HELP);
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
