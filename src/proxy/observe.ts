// Watches the upstream's answers to tools/list without holding the stream back: a JSON answer is
// read whole (it is one message), an SSE answer is handled event by event. Observing only passes
// every chunk through at once and parses a copy; filtering re-writes each event as it completes.
import { Transform } from 'node:stream';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { observeUpstreamMessage, type ToolPolicy } from './policy.js';

const tryParse = (data: string): unknown => {
  try {
    return JSON.parse(data);
  } catch {
    return undefined;
  }
};

function serializeEvent(ev: EventSourceMessage, data: string): string {
  let out = '';
  if (ev.id !== undefined) out += `id: ${ev.id}\n`;
  if (ev.event !== undefined) out += `event: ${ev.event}\n`;
  for (const line of data.split('\n')) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** An SSE pass-through that learns from (and, with `filterFor`, filters) tools/list answers. */
export function sseObserver(
  policy: ToolPolicy,
  ids: ReadonlySet<string | number>,
  filterFor: ReadonlySet<string> | undefined,
): Transform {
  const decoder = new TextDecoder();
  let out: Transform;
  const parser = createParser({
    onEvent(ev) {
      const msg = tryParse(ev.data);
      const replaced = msg === undefined ? undefined : observeUpstreamMessage(policy, msg, ids, filterFor);
      if (filterFor) out.push(serializeEvent(ev, replaced === undefined ? ev.data : JSON.stringify(replaced)));
    },
    onRetry(ms) {
      if (filterFor) out.push(`retry: ${ms}\n\n`);
    },
    onComment(comment) {
      if (filterFor) out.push(`:${comment}\n\n`);
    },
  });
  out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (!filterFor) this.push(chunk);
      parser.feed(decoder.decode(chunk, { stream: true }));
      done();
    },
  });
  return out;
}

/** Learns from (and filters) a complete JSON body; returns the bytes to send. */
export function observeJsonBody(
  policy: ToolPolicy,
  body: Buffer,
  ids: ReadonlySet<string | number>,
  filterFor: ReadonlySet<string> | undefined,
): Buffer {
  const msg = tryParse(body.toString('utf8'));
  if (msg === undefined) return body;
  const replaced = observeUpstreamMessage(policy, msg, ids, filterFor);
  return replaced === undefined ? body : Buffer.from(JSON.stringify(replaced));
}
