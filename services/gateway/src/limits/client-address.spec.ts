import { addressKey, clientAddress } from './client-address.js';

describe('clientAddress', () => {
  it('is the connection address when no proxy is trusted, whatever X-Forwarded-For claims', () => {
    expect(clientAddress('10.0.0.9', '1.2.3.4', 0)).toBe('10.0.0.9');
  });

  it('behind trusted proxies, is the entry they vouch for, not one the client wrote', () => {
    // The client wrote "6.6.6.6"; one proxy appended the address it saw (the client's: 1.2.3.4).
    expect(clientAddress('10.0.0.9', '6.6.6.6, 1.2.3.4', 1)).toBe('1.2.3.4');
    // Two proxies: the second appended the first proxy's address.
    expect(clientAddress('10.0.0.9', '6.6.6.6, 1.2.3.4, 10.0.0.5', 2)).toBe('1.2.3.4');
    expect(clientAddress('10.0.0.9', ['6.6.6.6', '1.2.3.4'], 1)).toBe('1.2.3.4');
    // Fewer entries than proxies: the farthest one known.
    expect(clientAddress('10.0.0.9', undefined, 2)).toBe('10.0.0.9');
  });
});

describe('addressKey', () => {
  it('keys IPv4 by address, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64', () => {
    expect(addressKey('1.2.3.4')).toBe('1.2.3.4');
    expect(addressKey('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
  });
});
