import { z } from 'zod';
import { BaseConfig, LOCAL_DEV_JWT_SECRET, port } from '@vibe/platform';

const optionalText = z
  .string()
  .optional()
  .transform((value) => value?.trim() || undefined);

/** `true` or `false` (unset: `false`): a switch that is off unless turned on explicitly. */
const flag = z
  .enum(['true', 'false'], { error: 'true or false' })
  .default('false')
  .transform((value) => value === 'true');

const count = (defaultValue: number, min = 1) => z.coerce.number().int().min(min).default(defaultValue);

/** An origin as browsers send it in `Origin`: scheme and host (and port), nothing else. */
function isOrigin(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return ['http:', 'https:'].includes(url.protocol) && url.origin === value;
}

/** The gateway's environment, validated once at boot: a bad value stops it with the variable's name. */
export const GatewayConfig = BaseConfig.extend({
  PORT: port(3000),
  /**
   * Verifies users' JWTs (HS256). Defaults to the Supabase CLI's local secret, for local use only: a deployment
   * sets its project's secret (or only SUPABASE_JWKS_URL, with asymmetric keys).
   */
  SUPABASE_JWT_SECRET: z.string().min(32).default(LOCAL_DEV_JWT_SECRET),
  /** The project's JWKS, for RS256 / ES256 tokens: `https://<ref>.supabase.co/auth/v1/.well-known/jwks.json`. */
  SUPABASE_JWKS_URL: optionalText.pipe(z.url().optional()),
  /** How long a fetched JWKS is used before it is fetched again. */
  SUPABASE_JWKS_TTL_SECONDS: count(600, 1),
  /** When set, tokens must carry this issuer (`https://<ref>.supabase.co/auth/v1`). */
  SUPABASE_JWT_ISSUER: optionalText,
  /**
   * DEMO SWITCH: `true` lets callers without a JWT create sessions. Such sessions have no owner: only their share
   * token (returned by POST /sessions) reaches them, read-only. Off by default; never on in production.
   */
  ALLOW_ANONYMOUS_BUILDS: flag,
  /**
   * LOCAL DEVELOPMENT: `true` serves POST /auth/dev-token, which mints a token for the local development user
   * (the viewer page's "local dev sign-in"). Allowed only with the local JWT secret, so it can never mint a token
   * a real project accepts. Set by `npm run dev` and `npm run demo`; off by default.
   */
  DEV_TOKENS: flag,
  /** Per client address (token bucket, per gateway replica): sustained requests per minute, and the burst. */
  RATE_LIMIT_ADDRESS_PER_MINUTE: count(1200),
  RATE_LIMIT_ADDRESS_BURST: count(200),
  /** Per signed-in user (token bucket, per gateway replica): sustained requests per minute, and the burst. */
  RATE_LIMIT_USER_PER_MINUTE: count(600),
  RATE_LIMIT_USER_BURST: count(100),
  /**
   * How many reverse proxies in front of the gateway append to X-Forwarded-For. 0: the client address is the
   * connection's (X-Forwarded-For is ignored, so a client cannot choose its own address).
   */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  /** Builds a user may have queued or running at once; one more is answered 429. */
  MAX_ACTIVE_BUILDS_PER_USER: count(3),
  /** Origins whose pages may call the API from a browser (CORS), comma-separated. Default: none. */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((origin) => origin.trim().replace(/\/$/, ''))
        .filter(Boolean),
    )
    .refine((origins) => origins.every(isOrigin), 'comma-separated origins such as https://app.example.com'),
  /**
   * Strict-Transport-Security max-age, in seconds, for a gateway served over HTTPS (directly or behind a TLS
   * proxy); 0 (the default) sends no HSTS header.
   */
  HSTS_MAX_AGE_SECONDS: count(0, 0),
  /**
   * Where browsers reach Realtime, for the viewer page: the realtime-bridge's own endpoint by default; with
   * SUPABASE_URL and SUPABASE_ANON_KEY, Supabase Realtime (the anon key is public by design).
   */
  REALTIME_URL: z.url().default('http://127.0.0.1:3004'),
  SUPABASE_URL: optionalText.pipe(z.url().optional()),
  SUPABASE_ANON_KEY: optionalText,
}).refine((config) => !config.DEV_TOKENS || config.SUPABASE_JWT_SECRET === LOCAL_DEV_JWT_SECRET, {
  message: 'DEV_TOKENS=true is allowed only with the local development JWT secret (unset SUPABASE_JWT_SECRET)',
  path: ['DEV_TOKENS'],
});
export type GatewayConfig = z.infer<typeof GatewayConfig>;

/** Injection token of the parsed configuration. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

/** The largest request body accepted; a larger one is answered 413. */
export const BODY_LIMIT_BYTES = 64 * 1024;
