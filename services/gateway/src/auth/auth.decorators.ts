import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { type SessionAction, type SupabaseJwtClaims } from '@vibe/platform';

/**
 * Who may call a route. The global AuthGuard reads it; a route without one requires a signed-in user (default
 * deny), so a new route is closed until someone decides otherwise.
 */
export type AccessRule =
  /** Anyone, without credentials (health, the viewer's files, the API description). */
  | { kind: 'public' }
  /** A signed-in user; anyone when the ALLOW_ANONYMOUS_BUILDS demo switch is on (POST /sessions). */
  | { kind: 'create_session' }
  /** A signed-in user. */
  | { kind: 'user' }
  /**
   * One session, named by a path or query parameter: `read` for its owner and holders of its share token, `write`
   * for its owner only. Others get 404, as for a session that does not exist.
   */
  | {
      kind: 'session';
      action: SessionAction;
      in: 'path' | 'query';
      param: string;
      /** When the parameter is absent, the route does something else for a signed-in user (`GET /sessions` lists). */
      whenAbsent?: 'user';
    };

export const ACCESS_RULE = 'vibe:access-rule';

/** Open to anyone, without credentials. */
export const Public = () => SetMetadata(ACCESS_RULE, { kind: 'public' } satisfies AccessRule);

/** POST /sessions: a signed-in user, whose id becomes `created_by`; anyone under ALLOW_ANONYMOUS_BUILDS. */
export const CreatesSession = () => SetMetadata(ACCESS_RULE, { kind: 'create_session' } satisfies AccessRule);

/** Reads the session named by the parameter: its owner, or a holder of its share token. */
export const ReadsSession = (where: 'path' | 'query', param: string, options: { whenAbsent?: 'user' } = {}) =>
  SetMetadata(ACCESS_RULE, { kind: 'session', action: 'read', in: where, param, ...options } satisfies AccessRule);

/** Changes or acts on the session named by the parameter: its owner only (never a share token). */
export const WritesSession = (where: 'path' | 'query', param: string) =>
  SetMetadata(ACCESS_RULE, { kind: 'session', action: 'write', in: where, param } satisfies AccessRule);

/** The caller of a request, as the AuthGuard established it. */
export interface Caller {
  /** The verified user (`sub` of their JWT), or null for an anonymous caller. */
  userId: string | null;
  claims: SupabaseJwtClaims | null;
  /** The share token presented (X-Share-Token or ?share_token=), unchecked unless `access` says so. */
  shareToken: string | null;
  /** On a session route: how the session was reached. */
  access?: 'owner' | 'share_token';
}

/** Where the guard leaves the caller on the request. */
export const CALLER = Symbol('vibe:caller');

/** The request's Caller (routes behind the AuthGuard only). */
export const CurrentCaller = createParamDecorator((_data: unknown, context: ExecutionContext): Caller => {
  const caller = context.switchToHttp().getRequest<{ [CALLER]?: Caller }>()[CALLER];
  if (!caller) throw new Error('no caller on this request: is the route public?');
  return caller;
});
