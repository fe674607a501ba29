import { type JsonWebKey } from 'node:crypto';
import { peekJwtHeader, verifySupabaseJwt, type SupabaseJwtClaims } from './auth.js';
import { redactText } from './redact.js';

export interface JwtVerifierOptions {
  /** The project's JWT secret (HS256). Without it, HS256 tokens are refused. */
  secret?: string;
  /**
   * The project's JWKS (`https://<ref>.supabase.co/auth/v1/.well-known/jwks.json`) for RS256 / ES256 tokens.
   * Without it, asymmetric tokens are refused.
   */
  jwksUrl?: string;
  /** How long a fetched key set is used before it is fetched again (default 10 minutes). */
  jwksTtlMs?: number;
  /**
   * A token whose `kid` is not in a fresh key set (the project rotated its keys) fetches the set again, at most
   * this often (default 30 s), so that made-up kids cannot make the gateway hammer the JWKS endpoint.
   */
  jwksMinRefreshMs?: number;
  /** How long one fetch of the key set may take (default 5 s). */
  jwksTimeoutMs?: number;
  /** Required audience: Supabase signs user tokens for `authenticated`. */
  audience: string;
  /** Required issuer (`https://<ref>.supabase.co/auth/v1`), when set. */
  issuer?: string;
  clockToleranceSeconds?: number;
}

/** The key set could not be fetched and none is cached: tokens cannot be checked now (a 503, not a 401). */
export class JwksUnavailableError extends Error {
  override readonly name = 'JwksUnavailableError';
}

/** The largest key set accepted (a real one is a few KiB). */
const MAX_JWKS_BYTES = 256 * 1024;

interface KeySet {
  keys: JsonWebKey[];
  fetchedAt: number;
}

/**
 * Verifies Supabase access tokens: HS256 with the secret, RS256 / ES256 with the project's JWKS, fetched on first
 * use and cached for `jwksTtlMs` (one fetch at a time however many requests wait for it). A key set that cannot
 * be refreshed keeps being used while it exists, so a JWKS outage does not sign everyone out; without any, the
 * verification fails with JwksUnavailableError. Signature, expiry, audience and issuer are checked by
 * `verifySupabaseJwt`; a refusal is a JwtError.
 */
export class JwtVerifier {
  private keySet: KeySet | undefined;
  private refreshing: Promise<KeySet> | undefined;
  private lastRefreshAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: JwtVerifierOptions) {}

  async verify(token: string): Promise<SupabaseJwtClaims> {
    const header = peekJwtHeader(token);
    const asymmetric = header?.alg === 'RS256' || header?.alg === 'ES256';
    const jwks = asymmetric && this.options.jwksUrl ? await this.keysFor(header.kid) : undefined;
    return verifySupabaseJwt(token, {
      secret: this.options.secret,
      jwks,
      audience: this.options.audience,
      issuer: this.options.issuer,
      clockToleranceSeconds: this.options.clockToleranceSeconds,
    });
  }

  private async keysFor(kid: unknown): Promise<{ keys: JsonWebKey[] }> {
    const now = Date.now();
    const cached = this.keySet;
    const fresh = cached !== undefined && now - cached.fetchedAt < (this.options.jwksTtlMs ?? 600_000);
    const known = cached !== undefined && (kid === undefined || cached.keys.some((key) => key.kid === kid));
    const mayRefetch = now - this.lastRefreshAt >= (this.options.jwksMinRefreshMs ?? 30_000);
    if (cached && fresh && (known || !mayRefetch)) return cached;
    try {
      return await this.refresh();
    } catch (error) {
      // Keep verifying with the keys we have; only without any is it an outage.
      if (cached) return cached;
      throw new JwksUnavailableError(
        `the JWKS could not be fetched: ${redactText(error instanceof Error ? error.message : String(error))}`,
      );
    }
  }

  private refresh(): Promise<KeySet> {
    this.refreshing ??= (async () => {
      this.lastRefreshAt = Date.now();
      try {
        const keySet = {
          keys: await fetchJwks(this.options.jwksUrl!, this.options.jwksTimeoutMs ?? 5000),
          fetchedAt: Date.now(),
        };
        this.keySet = keySet;
        return keySet;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }
}

/** GETs a JWKS document and returns its keys; throws when it is not one. */
async function fetchJwks(url: string, timeoutMs: number): Promise<JsonWebKey[]> {
  const response = await fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    headers: { accept: 'application/json' },
  });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  const text = await response.text();
  if (text.length > MAX_JWKS_BYTES) throw new Error(`${url} sent more than ${MAX_JWKS_BYTES} bytes`);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new Error(`${url} did not send JSON`);
  }
  const keys: unknown =
    typeof document === 'object' && document !== null ? (document as { keys?: unknown }).keys : null;
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'object' && key !== null)) {
    throw new Error(`${url} did not send a JWKS ({ "keys": [...] })`);
  }
  return keys as JsonWebKey[];
}
