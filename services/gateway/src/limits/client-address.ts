import { isIP } from 'node:net';

/**
 * The client's address: the connection's, or, behind `trustedHops` reverse proxies that each append the address
 * they received from to X-Forwarded-For, the entry those proxies vouch for. Entries to the left of it were written
 * by the client and are ignored, so a client cannot choose its own address.
 */
export function clientAddress(socketAddress: string, forwardedFor: string | string[] | undefined, trustedHops: number) {
  if (trustedHops === 0) return socketAddress;
  const forwarded = [forwardedFor ?? []]
    .flat()
    .flatMap((header) => header.split(','))
    .map((entry) => entry.trim())
    .filter(Boolean);
  const chain = [...forwarded, socketAddress];
  return chain[chain.length - 1 - trustedHops] ?? chain[0]!;
}

/**
 * The rate-limit key of an address: IPv4 as it is (IPv4-mapped IPv6 included), IPv6 by its /64 prefix (one
 * subscriber usually holds a whole /64, so limiting single IPv6 addresses would limit nothing).
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIP(address) !== 6) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
