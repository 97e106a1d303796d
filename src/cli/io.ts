// Terminal input and output for the CLI: passwords (never from argv), tables, JSON.
import { StringDecoder } from 'node:string_decoder';
import { passwordProblem } from '../lib/passwords.js';

export interface CliIo {
  env: Record<string, string | undefined>;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: { write(s: string): void };
  stderr: { write(s: string): void };
}

/** An expected failure: reported as one line, no stack trace. */
export class CliError extends Error {
  override name = 'CliError';
}

type Stdin = CliIo['stdin'] & { setRawMode?: (mode: boolean) => unknown; readableEnded?: boolean };

/**
 * A new password: from a prompt without echo, typed twice, when stdin is a terminal; otherwise the
 * first line of stdin (for scripts). Validated before it is returned.
 */
export async function readNewPassword(io: CliIo): Promise<string> {
  if (!io.stdin.isTTY) {
    const line = await readFirstLine(io.stdin);
    if (line === undefined) throw new CliError('no password on stdin: pipe it as the first line, or run in a terminal');
    return validPassword(line);
  }
  // At a terminal a typo is worth another try, as passwd(1) gives; a script gets the reason at once.
  for (let attempt = 1; ; attempt++) {
    const first = await promptHidden(io, 'New password: ');
    const problem = passwordProblem(first) ?? (await matchProblem(io, first));
    if (!problem) return first;
    if (attempt === PASSWORD_ATTEMPTS) throw new CliError(problem);
    io.stderr.write(`${problem}; try again\n`);
  }
}

const PASSWORD_ATTEMPTS = 3;

async function matchProblem(io: CliIo, first: string): Promise<string | undefined> {
  const second = await promptHidden(io, 'Repeat the password: ');
  return first === second ? undefined : 'the passwords do not match';
}

function validPassword(password: string): string {
  const problem = passwordProblem(password);
  if (problem) throw new CliError(problem);
  return password;
}

function readFirstLine(stdin: Stdin): Promise<string | undefined> {
  if (stdin.readableEnded) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const decoder = new StringDecoder('utf8');
    let text = '';
    const finish = (line: string | undefined, err?: Error) => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      stdin.removeListener('error', onError);
      stdin.pause();
      if (err) reject(err);
      else resolve(line?.replace(/\r$/, ''));
    };
    const onData = (chunk: string | Buffer) => {
      text += typeof chunk === 'string' ? chunk : decoder.write(chunk);
      const end = text.indexOf('\n');
      if (end >= 0) finish(text.slice(0, end));
    };
    const onEnd = () => {
      text += decoder.end();
      finish(text === '' ? undefined : text);
    };
    const onError = (err: Error) => finish(undefined, err);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
    stdin.resume();
  });
}

/** Reads one line in raw mode so nothing is echoed; Ctrl-C and Ctrl-D cancel. */
function promptHidden(io: CliIo, prompt: string): Promise<string> {
  const stdin = io.stdin as Stdin;
  const setRawMode = stdin.setRawMode?.bind(stdin);
  if (!setRawMode) throw new CliError('stdin is a terminal that cannot turn echo off');
  io.stderr.write(prompt);
  setRawMode(true);
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let chars: string[] = [];
    const finish = (err?: Error) => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      setRawMode(false);
      stdin.pause();
      io.stderr.write('\n');
      if (err) reject(err);
      else resolve(chars.join(''));
    };
    const onData = (chunk: string | Buffer) => {
      const input = Array.from(String(chunk));
      for (const [i, ch] of input.entries()) {
        if (ch === '\r' || ch === '\n') {
          // A pasted "password\rpassword\r" arrives as one chunk: the rest is the next prompt's.
          const rest = input.slice(ch === '\r' && input[i + 1] === '\n' ? i + 2 : i + 1).join('');
          finish();
          // Only after finish(): while still flowing, unshift would re-enter this handler.
          if (rest !== '') stdin.unshift(rest);
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') return finish(new CliError('cancelled'));
        if (ch === '\u007f' || ch === '\b') chars = chars.slice(0, -1);
        else chars.push(ch);
      }
    };
    const onEnd = () => finish(new CliError('stdin closed before the password was entered'));
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  });
}

// Client names and URIs come from dynamic registration, that is from anyone: escape control and
// bidi characters so they cannot drive the admin's terminal.
const UNSAFE = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/gu;

export function safe(value: string): string {
  return value.replace(UNSAFE, (ch) => `\\u${ch.codePointAt(0)?.toString(16).padStart(4, '0')}`);
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(io: CliIo, line: string): void {
  io.stdout.write(`${line}\n`);
}

/** Left-aligned columns; every cell is escaped. */
export function printTable(io: CliIo, headers: string[], rows: string[][]): void {
  const cells = [headers, ...rows].map((row) => row.map(safe));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  for (const row of cells) {
    printLine(
      io,
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  }
}

/** ISO 8601 UTC to the second, or '-' for none. */
export function formatTime(epochSeconds: number | null | undefined): string {
  const date = new Date(typeof epochSeconds === 'number' ? epochSeconds * 1000 : Number.NaN);
  return Number.isNaN(date.getTime()) ? '-' : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
