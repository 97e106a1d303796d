// Whether a host name or address (an IPv6 address with or without its URL brackets) is this
// machine's loopback: such a listener or URL never leaves the machine, so plain HTTP is acceptable.
import { isIP } from 'node:net';

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1';
  return false;
}
