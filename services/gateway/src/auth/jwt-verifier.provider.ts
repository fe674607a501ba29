import { Logger, type Provider } from '@nestjs/common';
import { JwtVerifier, LOCAL_DEV_JWT_SECRET } from '@vibe/platform';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Supabase access tokens: HS256 with SUPABASE_JWT_SECRET, RS256 / ES256 with SUPABASE_JWKS_URL's keys. */
export const JWT_VERIFIER_PROVIDER: Provider = {
  provide: JwtVerifier,
  inject: [GATEWAY_CONFIG],
  useFactory: (config: GatewayConfig) => {
    if (config.SUPABASE_JWT_SECRET === LOCAL_DEV_JWT_SECRET && !LOOPBACK.has(config.HOST)) {
      // The local secret is public: anyone can sign tokens with it. Fine on a laptop, never on a network.
      new Logger('Auth').warn(
        `SUPABASE_JWT_SECRET is the public local development secret while listening on ${config.HOST}: ` +
          "set your project's JWT secret (or SUPABASE_JWKS_URL) before exposing this gateway",
      );
    }
    return new JwtVerifier({
      secret: config.SUPABASE_JWT_SECRET,
      jwksUrl: config.SUPABASE_JWKS_URL,
      jwksTtlMs: config.SUPABASE_JWKS_TTL_SECONDS * 1000,
      audience: 'authenticated',
      issuer: config.SUPABASE_JWT_ISSUER,
    });
  },
};
