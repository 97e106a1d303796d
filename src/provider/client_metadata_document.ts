// OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP
// 2026-07-28): the agent's client_id is an https URL serving its metadata. oidc-provider fetches
// and validates the document (docs/pitfalls.md#client-id-metadata-documents); this module decides
// which documents may be fetched at all, does the fetching through a guarded connection, and
// records each agent seen so admins can list and disable it.
//
// The fetch guard: https only (oidc-provider refuses other client_id URLs), domain allow and deny
// patterns, no IP literals outside public unicast, every address the name resolves to checked
// before connecting (the connection uses the checked addresses, so a second DNS answer cannot
// rebind it), no redirects (oidc-provider asks for `redirect: manual` and refuses any non-200), a
// 2.5 s timeout (oidc-provider's), a body cap, and a cache bounded by configured minimum and maximum.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { errors } from 'oidc-provider';
import { Agent, fetch as undiciFetch } from 'undici';
import type { MetadataDocumentConfig } from '../config/index.js';

/** What the policy needs from storage: disabled agents and domains, and a record of agents seen. */
export interface MetadataDocumentStore {
  isDisabled(clientId: string): boolean;
  isDomainBlocked(host: string): boolean;
  /** True the first time the agent is seen. */
  seen(clientId: string, name: string | null, redirectUris: readonly string[]): boolean;
}

export function isMetadataDocumentClientId(clientId: string): boolean {
  return clientId.startsWith('https://');
}

/** The domain a metadata-document client proved it controls: the host serving its document. */
export function verifiedDomain(clientId: string): string | undefined {
  if (!isMetadataDocumentClientId(clientId)) return undefined;
  return URL.parse(clientId)?.hostname.toLowerCase() || undefined;
}

/** `example.com` matches that host only; `*.example.com` matches its subdomains (not the apex). */
export function domainMatches(host: string, pattern: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  const p = pattern.toLowerCase().trim().replace(/\.$/, '');
  if (p.startsWith('*.')) return h.endsWith(p.slice(1)) && h.length > p.length - 1;
  return h === p;
}

// Everything that is not public unicast: RFC 6890 special-purpose ranges, private, loopback,
// link-local, unique-local, CGNAT, documentation, benchmarking, multicast, reserved. (No
// ::ffff:0:0/96 rule: BlockList would then match every IPv4 address; mapped ones are unwrapped.)
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
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  SPECIAL_USE.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  SPECIAL_USE.addSubnet(net, prefix, 'ipv6');
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

function family(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

/** True for any address that is not public unicast (IPv4-mapped IPv6 judged as its IPv4). */
export function isSpecialUseAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return SPECIAL_USE.check(mapped[1], 'ipv4');
  if (isIP(address) === 0) return true;
  return SPECIAL_USE.check(address, family(address));
}

function isLoopbackAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return LOOPBACK.check(mapped[1], 'ipv4');
  return isIP(address) !== 0 && LOOPBACK.check(address, family(address));
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A dns.lookup replacement for the document connection: resolves every address and refuses the
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
        const error: NodeJS.ErrnoException = new Error('the document host resolves to a non-public address');
        error.code = 'ENOTFOUND';
        return callback(error, []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

function readExtraCa(file: string | undefined): string[] {
  if (!file) return [];
  return [readFileSync(file, 'utf8')];
}

export interface MetadataDocumentPolicy {
  /** oidc-provider's features.clientIdMetadataDocument (without `enabled`/`ack`). */
  allowFetch(ctx: unknown, clientId: string): Promise<boolean>;
  allowClient(
    ctx: unknown,
    client: { clientId: string; clientName?: string | undefined; redirectUris?: readonly string[] | undefined },
  ): Promise<boolean>;
  cacheDuration: { min: number; max: number };
  /** oidc-provider's `fetch`: every outgoing request goes through the guarded connection. */
  fetch(url: URL | string, options: Record<string, unknown>): Promise<Response>;
  close(): Promise<void>;
}

export function createMetadataDocumentPolicy(
  config: MetadataDocumentConfig,
  store: MetadataDocumentStore,
  /** Called when an agent's document is used for the first time (for the audit trail). */
  onFirstUse?: (ctx: unknown, clientId: string, name: string | null) => void,
): MetadataDocumentPolicy {
  const devHosts = new Set(config.devLoopbackHosts.map((h) => h.toLowerCase()));
  const extraCa = readExtraCa(config.devCaFile);
  const agent = new Agent({
    connect: {
      lookup: guardedLookup(devHosts) as never,
      ...(extraCa.length ? { ca: [...rootCertificates, ...extraCa] } : {}),
      timeout: 2500,
    },
    // A document is small; a response that dribbles is cut off by oidc-provider's 2.5 s signal.
    headersTimeout: 2500,
    bodyTimeout: 2500,
    maxResponseSize: config.maxBytes + 1024,
    connections: 8,
  });

  const hostAllowed = (host: string): boolean => {
    if (config.denyDomains.some((p) => domainMatches(host, p))) return false;
    if (store.isDomainBlocked(host)) return false;
    if (config.allowDomains.length > 0 && !config.allowDomains.some((p) => domainMatches(host, p))) return false;
    // IP literals skip the resolver, so they are judged here; named development hosts are names.
    const bare = host.replace(/^\[|\]$/g, '');
    if (isIP(bare) !== 0) return false;
    return true;
  };

  return {
    async allowFetch(_ctx, clientId) {
      const url = URL.parse(clientId);
      if (url?.protocol !== 'https:') return false;
      if (!hostAllowed(url.hostname)) return false;
      return !store.isDisabled(clientId);
    },
    // Runs for cached documents too, so a disable takes effect at once.
    async allowClient(ctx, client) {
      const url = URL.parse(client.clientId);
      if (!url || !hostAllowed(url.hostname) || store.isDisabled(client.clientId)) return false;
      const name = client.clientName ?? null;
      if (store.seen(client.clientId, name, client.redirectUris ?? [])) onFirstUse?.(ctx, client.clientId, name);
      return true;
    },
    cacheDuration: { min: config.cacheMin, max: config.cacheMax },
    fetch(url, options) {
      return undiciFetch(url, { ...(options as object), dispatcher: agent }) as unknown as Promise<Response>;
    },
    close: () => agent.close(),
  };
}

/**
 * Rules for a metadata document beyond oidc-provider's (which checks client_id equals the URL, no
 * shared-secret authentication, https URIs): a name to show and redirect URIs are required.
 * Called from the client metadata validator, which also runs for documents.
 */
export function checkMetadataDocument(metadata: Record<string, unknown>): void {
  const name = metadata.client_name;
  if (typeof name !== 'string' || name.trim() === '') {
    throw new errors.InvalidClientMetadata('a client ID metadata document must have a client_name');
  }
  if (!Array.isArray(metadata.redirect_uris) || metadata.redirect_uris.length === 0) {
    throw new errors.InvalidClientMetadata('a client ID metadata document must list redirect_uris');
  }
}
