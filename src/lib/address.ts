// An address as the host part of a URL: IPv6 addresses go in brackets (http://[::1]:8001).
import { isIPv6 } from 'node:net';

export function urlHost(address: string): string {
  return isIPv6(address) ? `[${address}]` : address;
}
