// Reading a provider endpoint's request body in front of oidc-provider without taking it away.
//
// oidc-provider reads the raw request stream itself (lib/shared/selective_body.js); when an
// upstream middleware has consumed it, the provider falls back to req.body and warns ("already
// parsed request body detected"). So the body is read here and put back into the same stream with
// Readable#unshift, which Node allows until the stream has emitted 'end'. 'end' is only emitted on
// a later tick, after a read finds the buffer empty, so unshifting in the same synchronous step as
// the last read keeps the stream readable, with the body as its content.
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../web/errors.js';

/** Reads the whole body and leaves it in the stream; refuses bodies over `limit` bytes (413). */
export function peekBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limit) return Promise.reject(new HttpError(413, 'invalid_request', 'request body is too large'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('readable', onReadable);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
      req.off('close', onError);
    };
    const onReadable = () => {
      for (let chunk = req.read() as Buffer | null; chunk !== null; chunk = req.read() as Buffer | null) {
        size += chunk.length;
        if (size > limit) {
          stop();
          reject(new HttpError(413, 'invalid_request', 'request body is too large'));
          return;
        }
        chunks.push(chunk);
      }
      // The whole message has arrived and been read: put it back before 'end' can be emitted.
      if (req.complete) {
        stop();
        const body = Buffer.concat(chunks, size);
        if (size > 0) req.unshift(body);
        resolve(body);
      }
    };
    // Only an empty body can end without the step above (nothing to put back).
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = () => {
      stop();
      reject(new HttpError(400, 'invalid_request', 'the request body could not be read'));
    };
    req.on('readable', onReadable);
    req.on('end', onEnd);
    req.on('error', onError);
    // A client that hangs up mid-body: the request closes without completing.
    req.on('aborted', onError);
    req.on('close', onError);
  });
}

/** Replaces a body left in the stream by peekBody (one synchronous step, so 'end' cannot slip in). */
export function replaceBody(req: IncomingMessage, body: Buffer): void {
  while (req.read() !== null) {
    // drained: what was put back is discarded
  }
  if (body.length > 0) req.unshift(body);
  // The provider checks the bytes it reads against the declared length.
  if (req.headers['content-length'] !== undefined) req.headers['content-length'] = String(body.length);
}
