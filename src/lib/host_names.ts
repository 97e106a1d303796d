// Host names as operators type them: in the metadata-document allow, deny and development lists
// (MCP_OAUTH_CIMD_*) and in domain blocks (`clients disable --domain`, the admin API). One grammar
// for all of them, so a name one accepts is never refused by another: DNS labels (RFC 1123 §2.1),
// one or more of them (single-label names such as `localhost` or an intranet host are names too).

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOST_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** Lower case, trimmed, without the trailing dot of a fully qualified name. */
export function normaliseHostName(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '');
}

/** A well-formed host name (after normalisation); a wildcard is not one. */
export function isHostName(host: string): boolean {
  const h = normaliseHostName(host);
  return h.length <= 253 && HOST_NAME.test(h);
}

/** A host name, or `*.` and a host name (any subdomain of it). */
export function isHostPattern(pattern: string): boolean {
  const p = normaliseHostName(pattern);
  return isHostName(p.startsWith('*.') ? p.slice(2) : p);
}
