import { Controller, Header, HttpCode, HttpStatus, Inject, NotFoundException, Post } from '@nestjs/common';
import { devUserId, LOCAL_DEV_USER, mintDevJwt } from '@vibe/platform';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config.js';
import { Public } from './auth.decorators.js';

/** How long a development token is valid. */
export const DEV_TOKEN_TTL_SECONDS = 3600;

export interface DevTokenResponse {
  accessToken: string;
  tokenType: 'bearer';
  expiresIn: number;
  user: { id: string };
}

/**
 * LOCAL DEVELOPMENT ONLY: the viewer page's "local dev sign-in". With DEV_TOKENS=true (which the configuration
 * accepts only together with the local JWT secret) it mints a token for the local development user, the same user
 * the CLI signs in as; otherwise it answers 404 as if it did not exist.
 */
@Controller('auth')
@Public()
export class DevTokenController {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  @Post('dev-token')
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  mint(): DevTokenResponse {
    if (!this.config.DEV_TOKENS) {
      throw new NotFoundException('dev tokens are not enabled on this gateway (DEV_TOKENS is off)');
    }
    const userId = devUserId(LOCAL_DEV_USER);
    return {
      accessToken: mintDevJwt(userId, this.config.SUPABASE_JWT_SECRET, DEV_TOKEN_TTL_SECONDS, {
        email: `${LOCAL_DEV_USER}@localhost`,
      }),
      tokenType: 'bearer',
      expiresIn: DEV_TOKEN_TTL_SECONDS,
      user: { id: userId },
    };
  }
}
