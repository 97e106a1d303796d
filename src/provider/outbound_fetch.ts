// The one way the server fetches a URL on someone else's behalf. oidc-provider makes every such
// request through its `fetch` hook: client ID metadata documents, a client's `jwks_uri` (when it
// authenticates with private_key_jwt), `sector_identifier_uri` and, where enabled, `request_uri`.
// Whoever registers a client or publishes a document chooses those URLs, so each request is held
// to the same rules:
//
// - https only, and never an IP literal: the name is what the certificate is checked against;
// - every address the name resolves to is public unicast (private, loopback, link-local,
//   unique-local, CGNAT, documentation, multicast, reserved, and IPv4-mapped, -compatible, NAT64
//   and 6to4 forms of those are refused); the connection is made to the checked addresses, so a
//   second DNS answer cannot rebind it;
// - no redirects (a redirect is an error, whatever the caller asked for);
// - connect, header and body timeouts, and a response size cap (oidc-provider adds a 2.5 s overall
//   signal and per-purpose body limits, see `fetchResponseBodyLimits` in ./index.ts).
//
// Development and tests only: named hosts may resolve to loopback (and nothing else), and an extra
// CA file may be trusted (src/config/index.ts refuses both with a public issuer).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';

// Everything that is not public unicast: RFC 6890 special-purpose ranges (and their IANA registry
// updates), private, loopback, link-local, unique-local, CGNAT, documentation, benchmarking, AS112,
// multicast, reserved. IPv4 rules also match IPv4-mapped IPv6 addresses (BlockList compares
// `::ffff:a.b.c.d` and `::ffff:xxxx:xxxx` with the IPv4 rules), so there is no ::ffff:0:0/96 rule,
// which would match every IPv4 address.
const SPECIAL_USE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.31.196.0', 24],
  ['192.52.193.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['192.175.48.0', 24],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  SPECIAL_USE.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  // Unspecified, loopback and the deprecated IPv4-compatible form ::a.b.c.d (RFC 4291 §2.5.5.1).
  ['::', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['2620:4f:8000::', 48],
  ['3fff::', 20],
  ['5f00::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  SPECIAL_USE.addSubnet(net, prefix, 'ipv6');
}

// IPv6 unicast on the Internet is 2000::/3 (RFC 4291 §2.4, IANA's allocations); anything outside
// it (once IPv4-mapped addresses are unwrapped) is not public, whatever later assignments say.
const GLOBAL_UNICAST_V6 = new BlockList();
GLOBAL_UNICAST_V6.addSubnet('2000::', 3, 'ipv6');

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

function family(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

/** The eight 16-bit groups of a valid IPv6 address (zone id dropped, a dotted IPv4 tail folded in). */
function ipv6Groups(address: string): number[] {
  let text = address.replace(/%.*$/, '');
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const middle = rest === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((g) => Number.parseInt(g, 16));
}

/**
 * The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d, also written
 * ::ffff:xxxx:xxxx), to be judged as itself. BlockList happens to do this too; the guard does not
 * rely on it.
 */
function unmapped(address: string): string {
  if (isIP(address.replace(/%.*$/, '')) !== 6) return address;
  const g = ipv6Groups(address);
  const mapped = g.length === 8 && g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
  if (!mapped) return address;
  const [hi = 0, lo = 0] = g.slice(6);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** True for anything that is not a public unicast address (including strings that are no address). */
export function isSpecialUseAddress(address: string): boolean {
  const a = unmapped(address);
  if (isIP(a) === 0) return true;
  if (family(a) === 'ipv6' && !GLOBAL_UNICAST_V6.check(a, 'ipv6')) return true;
  return SPECIAL_USE.check(a, family(a));
}

function isLoopbackAddress(address: string): boolean {
  const a = unmapped(address);
  return isIP(a) !== 0 && LOOPBACK.check(a, family(a));
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A dns.lookup replacement for outbound connections: resolves every address and refuses the
 * connection when any of them is special-use. Named development hosts may resolve to loopback only.
 */
export function guardedLookup(devLoopbackHosts: ReadonlySet<string>) {
  return (hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses) => {
      if (err) return callback(err, []);
      const dev = devLoopbackHosts.has(hostname.toLowerCase());
      const refused =
        addresses.length === 0 ||
        addresses.some((a) => (dev ? !isLoopbackAddress(a.address) : isSpecialUseAddress(a.address)));
      if (refused) {
        const error: NodeJS.ErrnoException = new Error('the host resolves to a non-public address');
        error.code = 'ENOTFOUND';
        return callback(error, []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

export class OutboundFetchRefused extends Error {
  override name = 'OutboundFetchRefused';
}

/** Why the guard refuses a URL before any connection, or undefined when it may be fetched. */
export function refusalOf(url: string | URL): string | undefined {
  const parsed = typeof url === 'string' ? URL.parse(url) : url;
  if (!parsed) return 'not a URL';
  if (parsed.protocol !== 'https:') return 'only https URLs are fetched';
  if (parsed.username || parsed.password) return 'URLs with credentials are not fetched';
  // IP literals never reach the resolver, so they could not be checked there; a name is required.
  if (isIP(parsed.hostname.replace(/^\[|\]$/g, '')) !== 0) return 'IP address URLs are not fetched';
  return undefined;
}

export interface OutboundFetchOptions {
  /** The largest response body read for any purpose (oidc-provider caps each purpose lower). */
  maxBytes: number;
  /** Development and tests only: host names that may resolve to a loopback address. */
  devLoopbackHosts: readonly string[];
  /** Development and tests only: a PEM file of extra CA certificates to trust. */
  devCaFile: string | undefined;
}

export interface OutboundFetch {
  /** oidc-provider's `fetch` configuration hook. */
  fetch(url: URL | string, options: Record<string, unknown>): Promise<Response>;
  close(): Promise<void>;
}

const TIMEOUT_MS = 2500;
/** The largest body the connection reads for any purpose; each purpose has its own lower limit too. */
export const OUTBOUND_MAX_BYTES = 64 * 1024;

export function createOutboundFetch(opts: OutboundFetchOptions): OutboundFetch {
  const devHosts = new Set(opts.devLoopbackHosts.map((h) => h.toLowerCase()));
  const extraCa = opts.devCaFile ? [readFileSync(opts.devCaFile, 'utf8')] : [];
  const agent = new Agent({
    connect: {
      lookup: guardedLookup(devHosts) as never,
      ...(extraCa.length ? { ca: [...rootCertificates, ...extraCa] } : {}),
      timeout: TIMEOUT_MS,
    },
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
    maxResponseSize: opts.maxBytes,
    connections: 8,
  });
  return {
    async fetch(url, options) {
      const refusal = refusalOf(url);
      if (refusal) throw new OutboundFetchRefused(refusal);
      const { dispatcher: _ignored, ...rest } = options;
      return undiciFetch(url, {
        ...(rest as object),
        // Whatever the caller asked: a redirect could lead anywhere the guard would not allow.
        redirect: 'error',
        dispatcher: agent,
      }) as unknown as Promise<Response>;
    },
    close: () => agent.close(),
  };
}

/** For a provider built without outbound fetching (deny by default). */
export const noOutboundFetch: OutboundFetch = {
  fetch: async () => {
    throw new OutboundFetchRefused('outbound requests are not configured');
  },
  close: async () => {},
};
