// Loaded by vitest before every test file (vitest.config.ts `setupFiles`). Tests must never reach
// the outside network: every TCP/TLS connection (node:net, node:tls, node:http(s), fetch/undici,
// which all go through net.Socket#connect) is allowed only to loopback addresses or a Unix socket.
// Host names are resolved as usual (or with the caller's own `lookup`) and the resolved
// addresses are checked, so `localhost` or a test name mapped to 127.0.0.1 by a custom lookup work.
// Extra hosts (a test host in a network namespace made by the test itself) can be allowed with
// MCP_OAUTH_TEST_ALLOW_HOSTS=host1,host2.
import dns from 'node:dns';
import net from 'node:net';

const extraAllowed = new Set(
  (process.env.MCP_OAUTH_TEST_ALLOW_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean),
);

function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^\[|\]$/g, '');
  if (extraAllowed.has(a)) return true;
  if (net.isIPv4(a)) return a.startsWith('127.') || a === '0.0.0.0';
  if (net.isIPv6(a)) return a === '::1' || a === '::' || /^::ffff:(127\.|0\.0\.0\.0$)/.test(a);
  return false;
}

function refuse(target: string): Error {
  const err = new Error(
    `Test tried to connect to ${target}: tests may only connect to loopback (127.0.0.0/8, ::1, localhost). ` +
      'Serve what the test needs on 127.0.0.1 (see vitest.setup.ts).',
  ) as NodeJS.ErrnoException;
  err.code = 'ETESTNETWORK';
  return err;
}

type LookupFn = (hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => void;

function guardedLookup(inner: LookupFn): LookupFn {
  return (hostname, options, callback) => {
    inner(hostname, options, (err: unknown, address: unknown, family: unknown) => {
      if (err) return callback(err);
      const list = Array.isArray(address) ? (address as { address: string }[]).map((e) => e.address) : [address];
      const bad = list.find((a) => typeof a !== 'string' || !isLoopbackAddress(a));
      if (bad !== undefined) return callback(refuse(`${hostname} (${String(bad)})`));
      callback(null, address, family);
    });
  };
}

type ConnectOptions = { host?: string; port?: number | string; path?: string; lookup?: LookupFn };

/** The options to connect with, or the error to fail the socket with. */
function guardOptions(options: ConnectOptions): ConnectOptions | Error {
  if (typeof options.path === 'string' && options.path !== '') return options; // Unix socket / pipe
  const host = options.host ?? 'localhost';
  if (net.isIP(host.replace(/^\[|\]$/g, ''))) {
    return isLoopbackAddress(host) ? options : refuse(`${host}:${String(options.port)}`);
  }
  if (extraAllowed.has(host.toLowerCase())) return options;
  return { ...options, lookup: guardedLookup(options.lookup ?? (dns.lookup as unknown as LookupFn)) };
}

const originalConnect = net.Socket.prototype.connect;

net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
  let options: ConnectOptions | Error;
  let callArgs: unknown[];
  const [first, second, ...rest] = args;
  if (Array.isArray(first)) {
    // net.connect()/tls.connect() pass one already-normalised array [options, callback].
    options = guardOptions(first[0] as ConnectOptions);
    if (!(options instanceof Error)) first[0] = options;
    callArgs = args;
  } else if (typeof first === 'object' && first !== null) {
    options = guardOptions(first as ConnectOptions);
    callArgs = [options, second, ...rest];
  } else if (typeof first === 'string' && !/^\d+$/.test(first)) {
    return Reflect.apply(originalConnect, this, args); // socket.connect(path[, callback])
  } else {
    // socket.connect(port[, host][, callback])
    const host = typeof second === 'string' ? second : undefined;
    const callback = typeof second === 'function' ? second : rest[0];
    options = guardOptions({ port: Number(first), host });
    callArgs = [options, callback];
  }
  if (options instanceof Error) {
    // Fail the way an unreachable address does: an 'error' event, not a synchronous throw.
    const err = options;
    process.nextTick(() => this.destroy(err));
    return this;
  }
  return Reflect.apply(originalConnect, this, callArgs);
} as typeof net.Socket.prototype.connect;
