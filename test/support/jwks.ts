/**
 * A project's signing keys, as Supabase publishes them: an HTTP server on 127.0.0.1 serving
 * `/auth/v1/.well-known/jwks.json` with the public keys, and the private keys to sign user tokens (RS256 and
 * ES256) with. Tests rotate keys, take the endpoint down and count its requests.
 */
import { generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type AsymmetricAlg = 'RS256' | 'ES256';

interface SigningKey {
  kid: string;
  alg: AsymmetricAlg;
  privateKey: KeyObject;
  publicJwk: JsonWebKey;
}

export interface JwksServer {
  /** The JWKS URL, for SUPABASE_JWKS_URL. */
  url: string;
  /** How many times the key set was fetched. */
  fetches(): number;
  /** A token with these claims, signed by the current key of `alg` (or the given key id). */
  sign(alg: AsymmetricAlg, claims: Record<string, unknown>, kid?: string): string;
  /** A new key of `alg` that signs from now on; the old one stays published unless `retire`. */
  rotate(alg: AsymmetricAlg, options?: { retire?: boolean }): string;
  /** The endpoint answers this status (and no key set) until set back to 200. */
  answer(status: number): void;
  close(): Promise<void>;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function newKey(alg: AsymmetricAlg, n: number): SigningKey {
  const pair =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `${alg.toLowerCase()}-${n}`;
  return {
    kid,
    alg,
    privateKey: pair.privateKey,
    publicJwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
  };
}

export async function startJwksServer(): Promise<JwksServer> {
  let serial = 0;
  const published: SigningKey[] = [newKey('RS256', ++serial), newKey('ES256', ++serial)];
  const current = new Map<AsymmetricAlg, SigningKey>(published.map((key) => [key.alg, key]));
  let status = 200;
  let fetches = 0;

  const server = createServer((request, response) => {
    if (request.url !== '/auth/v1/.well-known/jwks.json') {
      response.writeHead(404).end();
      return;
    }
    fetches += 1;
    if (status !== 200) {
      response.writeHead(status, { 'content-type': 'application/json' }).end('{"message":"unavailable"}');
      return;
    }
    response
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ keys: published.map((key) => key.publicJwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/auth/v1/.well-known/jwks.json`,
    fetches: () => fetches,
    sign(alg, claims, kid) {
      const key = kid ? published.find((k) => k.kid === kid) : current.get(alg);
      if (!key) throw new Error(`no key ${kid ?? alg}`);
      const body = `${b64({ alg, kid: key.kid, typ: 'JWT' })}.${b64(claims)}`;
      const signature = sign(
        'sha256',
        Buffer.from(body),
        alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' } : key.privateKey,
      );
      return `${body}.${signature.toString('base64url')}`;
    },
    rotate(alg, options = {}) {
      const key = newKey(alg, ++serial);
      if (options.retire) published.splice(published.indexOf(current.get(alg)!), 1);
      published.push(key);
      current.set(alg, key);
      return key.kid;
    },
    answer(next) {
      status = next;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The claims of a Supabase user token for `sub`, valid for a minute from now, with any overrides. */
export function userClaims(sub: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { sub, aud: 'authenticated', role: 'authenticated', iat: now, exp: now + 60, ...overrides };
}
