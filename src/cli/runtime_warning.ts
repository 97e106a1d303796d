// oidc-provider 9 prints one warning when it is first imported on a Node.js release older than 22
// LTS (node_modules/oidc-provider/lib/index.js, through console.warn). The project supports Node 20
// as well (docs/development.md), so on 20 that warning would greet every command and every server
// start with advice nobody has to follow. Exactly that line is dropped, only while the modules load,
// only on Node 20; any other warning, and the same one on a runtime we do not support, still shows.

const UNSUPPORTED_RUNTIME =
  'oidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release.';
// oidc-provider colours the line when stderr is a terminal.
const ANSI = /\x1b\[[0-9;]*m/g;

const nodeMajor = () => Number(process.versions.node.split('.')[0]);

/** Runs `load` (an import of modules that load oidc-provider) without that one warning on Node 20. */
export async function withoutRuntimeWarning<T>(load: () => Promise<T>, major: number = nodeMajor()): Promise<T> {
  if (major !== 20) return load();
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (args.length === 1 && typeof args[0] === 'string' && args[0].replace(ANSI, '') === UNSUPPORTED_RUNTIME) return;
    warn.apply(console, args);
  };
  try {
    return await load();
  } finally {
    console.warn = warn;
  }
}
