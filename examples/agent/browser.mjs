// Opens a URL in the user's default browser with the platform's own opener. Resolves to the
// opener's name, or undefined when none could be started (a server without a desktop, a
// container): the caller prints the URL in every case.
import { spawn } from 'node:child_process';

function opener(url) {
  if (process.platform === 'darwin') return { command: 'open', args: [url] };
  if (process.platform === 'win32') {
    // `start` is a cmd built-in; the empty "" is its window title. The URL is quoted so that cmd
    // does not split it at `&` (URL serialisation percent-encodes any `"` inside it).
    return { command: 'cmd', args: ['/c', 'start', '""', `"${url}"`], verbatim: true };
  }
  return { command: 'xdg-open', args: [url] };
}

export function openBrowser(url) {
  const { command, args, verbatim } = opener(url);
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(command, args, { detached: true, stdio: 'ignore', windowsVerbatimArguments: verbatim === true });
    } catch {
      resolve(undefined);
      return;
    }
    child.once('error', () => resolve(undefined));
    child.once('spawn', () => {
      child.unref();
      resolve(command);
    });
  });
}
