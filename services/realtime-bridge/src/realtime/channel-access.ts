import { Inject, Injectable } from '@nestjs/common';
import {
  authorizeSessionRead,
  JwtError,
  PG_POOL,
  verifySupabaseJwt,
  type JwtVerifyOptions,
  type Pool,
  type ReadAccess,
  type ReadCredentials,
  type SupabaseJwtClaims,
} from '@vibe/platform';
import { BRIDGE_CONFIG, type BridgeConfig } from '../config.js';

/**
 * Who may join `build:{sessionId}`: the session's owner with their JWT, or a holder of its share token
 * (DESIGN.md §6). Reads `build_sessions`, written by others.
 */
@Injectable()
export class ChannelAccess {
  private readonly jwt: JwtVerifyOptions;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(BRIDGE_CONFIG) config: BridgeConfig,
  ) {
    this.jwt = { secret: config.SUPABASE_JWT_SECRET, audience: 'authenticated' };
  }

  async check(sessionId: string, credentials: ReadCredentials): Promise<ReadAccess> {
    const { rows } = await this.pool.query<{ created_by: string | null; share_token: string }>(
      'select created_by, share_token from public.build_sessions where id = $1',
      [sessionId],
    );
    const row = rows[0];
    return authorizeSessionRead(
      row && { createdBy: row.created_by, shareToken: row.share_token },
      credentials,
      this.jwt,
    );
  }

  /** The claims of a refreshed access token, if it still is the owner's; undefined otherwise. */
  ownerClaims(token: string, owner: string): SupabaseJwtClaims | undefined {
    try {
      const claims = verifySupabaseJwt(token, this.jwt);
      return claims.sub === owner ? claims : undefined;
    } catch (error) {
      if (error instanceof JwtError) return undefined;
      throw error;
    }
  }
}
