import {
  Inject,
  Injectable,
  NotFoundException,
  ServiceUnavailableException,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
  type Type,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  bearerToken,
  decideSessionAccess,
  HealthController,
  isUserId,
  JwksUnavailableError,
  JwtError,
  JwtVerifier,
  MetricsController,
  type SupabaseJwtClaims,
} from '@vibe/platform';
import { type FastifyRequest } from 'fastify';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config.js';
import { RateLimits } from '../limits/rate-limits.js';
import { ACCESS_RULE, CALLER, type AccessRule, type Caller } from './auth.decorators.js';
import { SessionOwnersRepository } from './session-owners.repository.js';

/** The platform's own routes (libs/platform), which cannot carry the gateway's decorators: open to probes. */
const PLATFORM_PUBLIC: ReadonlyArray<Type> = [HealthController, MetricsController];

/** The rule of a route without a decorator: a signed-in user (default deny for everyone else). */
const DEFAULT_RULE: AccessRule = { kind: 'user' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type GuardedRequest = FastifyRequest & { [CALLER]?: Caller };

/**
 * Authentication and authorization of every route (registered as APP_GUARD), so that controllers only declare
 * who may call them (`auth.decorators.ts`):
 * - a bearer token is verified (HS256 or JWKS; signature, expiry, audience, issuer) and its `sub` must be a
 *   user id; a refused token is a 401 that says why, never echoing the token;
 * - the per-user rate limit is counted (the per-address one ran before routing);
 * - a session route decides with `decideSessionAccess`: owner reads and writes, a share token (X-Share-Token or
 *   ?share_token=, taken out of the query so that routes never see it) only reads; a foreign session answers
 *   404 exactly like an unknown one.
 * A session id that is not a uuid is left to the route's validation (400) and is never looked up.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: JwtVerifier,
    private readonly owners: SessionOwnersRepository,
    private readonly limits: RateLimits,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const rule = this.ruleOf(context);
    if (rule.kind === 'public') return true;
    const request = context.switchToHttp().getRequest<GuardedRequest>();

    const shareToken = takeShareToken(request);
    const { claims, tokenError } = await this.verify(bearerToken(firstHeader(request, 'authorization')));
    if (claims) {
      const limited = this.limits.user(claims.sub);
      if (limited) throw limited;
    }
    const caller: Caller = { userId: claims?.sub.toLowerCase() ?? null, claims: claims ?? null, shareToken };
    request[CALLER] = caller;

    switch (rule.kind) {
      case 'create_session':
        if (tokenError) throw refused(tokenError);
        if (!caller.userId && !this.config.ALLOW_ANONYMOUS_BUILDS) {
          throw new UnauthorizedException(
            'authorization: sign in: send your Supabase access token as Authorization: Bearer <token> ' +
              '(this gateway does not build for anonymous callers)',
          );
        }
        return true;
      case 'user':
        if (tokenError) throw refused(tokenError);
        if (!caller.userId) {
          throw new UnauthorizedException('authorization: send your Supabase access token as Authorization: Bearer');
        }
        return true;
      case 'session':
        await this.authorizeSession(rule, request, caller, tokenError);
        return true;
      default: {
        const unknown: never = rule;
        throw new Error(`unknown access rule ${JSON.stringify(unknown)}`);
      }
    }
  }

  private ruleOf(context: ExecutionContext): AccessRule {
    const declared = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (declared) return declared;
    return PLATFORM_PUBLIC.includes(context.getClass()) ? { kind: 'public' } : DEFAULT_RULE;
  }

  private async verify(token: string | undefined): Promise<{ claims?: SupabaseJwtClaims; tokenError?: JwtError }> {
    if (!token) return {};
    try {
      const claims = await this.verifier.verify(token);
      if (!isUserId(claims.sub))
        throw new JwtError('malformed', 'the token is not a user token (sub is not a user id)');
      return { claims };
    } catch (error) {
      if (error instanceof JwtError) return { tokenError: error };
      if (error instanceof JwksUnavailableError) {
        throw new ServiceUnavailableException(
          'authorization: tokens cannot be checked now (JWKS unavailable); retry later',
        );
      }
      throw error;
    }
  }

  private async authorizeSession(
    rule: Extract<AccessRule, { kind: 'session' }>,
    request: GuardedRequest,
    caller: Caller,
    tokenError: JwtError | undefined,
  ): Promise<void> {
    const source = (rule.in === 'path' ? request.params : request.query) as Record<string, unknown> | undefined;
    const id = source?.[rule.param];
    if (id === undefined && rule.whenAbsent === 'user') {
      // Without the session id the route is about the signed-in user's own sessions: a share token is no user.
      if (tokenError) throw refused(tokenError);
      if (!caller.userId) {
        throw new UnauthorizedException(
          `authorization: send your Supabase access token as Authorization: Bearer (without ${rule.param}, this ` +
            "lists the signed-in user's sessions; a share token reads only its own session)",
        );
      }
      return;
    }
    if (typeof id !== 'string' || !UUID.test(id)) return;

    if (rule.action === 'write') {
      if (tokenError) throw refused(tokenError);
      if (!caller.userId) {
        throw new UnauthorizedException(
          "authorization: send the owner's bearer token (a share token only reads, it never changes a session)",
        );
      }
    } else if (!caller.userId && !caller.shareToken) {
      if (tokenError) throw refused(tokenError);
      throw new UnauthorizedException(
        "authorization: send the owner's bearer token, or the share token as X-Share-Token or share_token",
      );
    }
    const decision = decideSessionAccess(await this.owners.find(id), caller, rule.action);
    if (!decision.granted) {
      // A refused JWT that the share token did not make up for is reported as what it is.
      if (tokenError) throw refused(tokenError);
      throw new NotFoundException(`${rule.param}: no session ${id}`);
    }
    caller.access = decision.granted;
  }
}

function refused(error: JwtError): UnauthorizedException {
  return new UnauthorizedException(`authorization: ${error.message}`);
}

function firstHeader(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The share token of a request: the X-Share-Token header, or the `share_token` query parameter (for EventSource
 * and links, which cannot send headers). The parameter is removed from the query: it is a credential, not an
 * input of the route.
 */
function takeShareToken(request: FastifyRequest): string | null {
  const query = request.query as Record<string, unknown> | undefined;
  const fromQuery = query?.share_token;
  if (query && 'share_token' in query) delete query.share_token;
  const header = firstHeader(request, 'x-share-token');
  const token: unknown = header ?? (Array.isArray(fromQuery) ? (fromQuery as unknown[])[0] : fromQuery);
  return typeof token === 'string' && token !== '' ? token : null;
}
