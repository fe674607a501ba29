import { z } from 'zod';
import { LOG_LEVELS } from './logger.js';

/** A `postgres://` or `postgresql://` URL. */
export function isPostgresUrl(value: string): boolean {
  return URL.canParse(value) && ['postgres:', 'postgresql:'].includes(new URL(value).protocol);
}

/** NATS servers as the client takes them: comma-separated `nats://host:port`, `tls://host:port` or `host:port`. */
export function isNatsServerList(value: string): boolean {
  const servers = value.split(',').map((server) => server.trim());
  return servers.every((server) => {
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `nats://${server}`;
    return URL.canParse(url) && ['nats:', 'tls:'].includes(new URL(url).protocol) && new URL(url).hostname !== '';
  });
}

/** Settings every service reads. Each service extends this with its own. */
export const BaseConfig = z.object({
  DATABASE_URL: z
    .string()
    .min(1)
    .default('postgres://postgres@127.0.0.1:5432/vibe')
    .refine(isPostgresUrl, 'must be a postgres:// URL'),
  NATS_URL: z
    .string()
    .min(1)
    .default('nats://127.0.0.1:4222')
    .refine(isNatsServerList, 'must be nats://host:port (several separated by commas)'),
  /** Prefix of every stream, subject and bucket name; lets tests share one NATS server. */
  NATS_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_-]*$/, 'letters, digits, "_" and "-" only')
    .default(''),
  HOST: z.string().default('127.0.0.1'),
  /** The least severe log level printed: fatal, error, warn, log, debug or verbose. */
  LOG_LEVEL: z.enum(LOG_LEVELS).default('log'),
});
export type BaseConfig = z.infer<typeof BaseConfig>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment once at boot; a bad value stops the process with the variable's name. */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** A TCP port from the environment, with a default. */
export function port(defaultPort: number) {
  return z.coerce.number().int().min(0).max(65535).default(defaultPort);
}
