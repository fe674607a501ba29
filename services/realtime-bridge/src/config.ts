import { z } from 'zod';
import { BaseConfig, LOCAL_DEV_JWT_SECRET, port } from '@vibe/platform';

const optionalText = z
  .string()
  .optional()
  .transform((value) => value?.trim() || undefined);

/** The bridge's environment, validated once at boot: a bad value stops it with the variable's name. */
export const BridgeConfig = BaseConfig.extend({
  PORT: port(3004),
  /**
   * With SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, events and presence go to Supabase Realtime's broadcast
   * REST API; without them the bridge serves its own Realtime endpoint at /realtime/v1/websocket.
   */
  SUPABASE_URL: optionalText.pipe(z.url().optional()),
  /** A secret: only ever sent to SUPABASE_URL, never logged. */
  SUPABASE_SERVICE_ROLE_KEY: optionalText,
  /** Verifies the owners' JWTs at channel join (HS256). Defaults to the Supabase CLI's local secret. */
  SUPABASE_JWT_SECRET: z.string().min(32).default(LOCAL_DEV_JWT_SECRET),
  /** A Realtime connection that sends nothing (not even a heartbeat) for this long is closed. */
  REALTIME_IDLE_TIMEOUT_MS: z.coerce.number().int().min(1000).default(60_000),
  /** A client that lets this many bytes queue up unread is disconnected (it resyncs when it comes back). */
  REALTIME_MAX_BUFFERED_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .default(8 * 1024 * 1024),
}).refine((config) => Boolean(config.SUPABASE_URL) === Boolean(config.SUPABASE_SERVICE_ROLE_KEY), {
  message: 'set both SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, or neither',
  path: ['SUPABASE_SERVICE_ROLE_KEY'],
});
export type BridgeConfig = z.infer<typeof BridgeConfig>;

/** Injection token of the parsed configuration. */
export const BRIDGE_CONFIG = Symbol('BRIDGE_CONFIG');

/** Where broadcasts go: Supabase Realtime when configured, else the bridge's own endpoint. */
export function realtimeMode(config: BridgeConfig): 'supabase' | 'local' {
  return config.SUPABASE_URL && config.SUPABASE_SERVICE_ROLE_KEY ? 'supabase' : 'local';
}
