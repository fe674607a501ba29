import { createHash } from 'node:crypto';
import { EnvironmentMode } from '@vibe/contracts';
import { z } from 'zod';

/**
 * Names and markers of the local driver's databases. Pure: no I/O.
 *
 * PERSISTED: database names and the markers written as database comments identify environments that
 * outlive a deployment; change them only together with a way to read the old ones.
 */

const SESSION_HEX = /^[0-9a-f]{32}$/;

/** The environment database of a session: the prefix and the session id without dashes. */
export function environmentDatabaseName(prefix: string, sessionId: string): string {
  const hex = sessionId.replace(/-/g, '').toLowerCase();
  if (!SESSION_HEX.test(hex)) throw new Error(`session id "${sessionId}" is not a uuid`);
  return `${prefix}${hex}`;
}

/** A short fingerprint of the bootstrap SQL: a changed bootstrap gets a new template, never a stale one. */
export function bootstrapFingerprint(bootstrapSql: string): string {
  return createHash('sha256').update(bootstrapSql).digest('hex').slice(0, 8);
}

/** The template that "branch" environments are cloned from. */
export function templateDatabaseName(prefix: string, bootstrapSql: string): string {
  return `${prefix}template_${bootstrapFingerprint(bootstrapSql)}`;
}

/**
 * A spare: a clone of the template made ahead of time, renamed to a session's environment when a branch is
 * created. Named after the template (so what skips the template skips spares too) and never a valid
 * environment ref. `suffix`: 12 hex digits, so that a 31-character prefix still fits in 63 characters.
 */
export function spareDatabaseName(
  prefix: string,
  fingerprint: string,
  suffix: string,
  state: 'ready' | 'making' = 'ready',
): string {
  if (!/^[0-9a-f]{12}$/.test(suffix)) throw new Error(`spare suffix "${suffix}" is not 12 hex digits`);
  return `${prefix}template_${fingerprint}_${state === 'ready' ? 's' : 'm'}${suffix}`;
}

/**
 * A regular expression for the names of ready spares of one template's fingerprint, or of every spare (ready
 * or being made) of any fingerprint.
 */
export function spareDatabasePattern(prefix: string, fingerprint?: string): string {
  return fingerprint
    ? `^${prefix}template_${fingerprint}_s[0-9a-f]{12}$`
    : `^${prefix}template_[0-9a-f]{8}_[sm][0-9a-f]{12}$`;
}

/**
 * Why `ref` cannot be an environment of this provisioner, or null when it can. Only names that
 * `environmentDatabaseName` makes are accepted, so neither the template nor any other database on the server
 * (the control plane, `postgres`) can be reached through a command.
 */
export function environmentRefProblem(prefix: string, ref: string): string | null {
  const shown = ref.length > 80 ? `${ref.slice(0, 80)}…` : ref;
  if (!/^[a-z0-9_]+$/.test(ref)) {
    return `environment ref "${shown}" is invalid: only lower-case letters, digits and "_" are allowed`;
  }
  if (!ref.startsWith(prefix) || !SESSION_HEX.test(ref.slice(prefix.length))) {
    return `environment ref "${shown}" is not an environment of this provisioner (expected "${prefix}" followed by 32 hex digits)`;
  }
  return null;
}

/** Host and port of a Postgres URL, for EnvironmentInfo; never the user or the password. */
export function serverAddress(connectionString: string): { host: string; port: number } {
  const url = new URL(connectionString);
  return { host: url.hostname || 'localhost', port: url.port ? Number(url.port) : 5432 };
}

const ENVIRONMENT_MARKER = 'vibe-architect environment ';
const TEMPLATE_MARKER = 'vibe-architect template ';

const EnvironmentMarker = z.object({ mode: EnvironmentMode, createdAt: z.iso.datetime() });
export type EnvironmentMarker = z.infer<typeof EnvironmentMarker>;

/**
 * The comment written on an environment database once it is fully bootstrapped. Database comments are not
 * copied from a template, so a clone is marked only when its own creation finished.
 */
export function environmentMarker(marker: EnvironmentMarker): string {
  return ENVIRONMENT_MARKER + JSON.stringify(marker);
}

export function parseEnvironmentMarker(comment: string | null | undefined): EnvironmentMarker | null {
  if (!comment?.startsWith(ENVIRONMENT_MARKER)) return null;
  try {
    const parsed = EnvironmentMarker.safeParse(JSON.parse(comment.slice(ENVIRONMENT_MARKER.length)));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The comment written on a template once its bootstrap committed. */
export function templateMarker(fingerprint: string): string {
  return TEMPLATE_MARKER + fingerprint;
}

export function isTemplateReady(comment: string | null | undefined, fingerprint: string): boolean {
  return comment === templateMarker(fingerprint);
}
