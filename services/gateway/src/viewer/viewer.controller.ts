import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Controller, Get, Inject, NotFoundException, Res } from '@nestjs/common';
import { type FastifyReply } from 'fastify';
import { Public } from '../auth/auth.decorators.js';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config.js';

/** The page's files: `services/gateway/public` (beside `src` and `dist`, so both find it). */
const PUBLIC_DIR = path.resolve(__dirname, '../../public');

/** What the viewer page needs to know to reach Realtime (`GET /config.json`). */
export interface ViewerConfig {
  realtime: {
    /** `local`: the realtime-bridge's own endpoint; `supabase`: Supabase Realtime. */
    mode: 'local' | 'supabase';
    /** The base URL supabase-js is created with (it connects to `<url>/realtime/v1/websocket`). */
    url: string;
    /** The key supabase-js is created with: Supabase's anon key, which is public; locally any non-empty value. */
    apiKey: string;
  };
  /** How the page may sign in to start builds. */
  auth: {
    /** POST /auth/dev-token is served: the page offers its "local dev sign-in" (local development only). */
    devTokens: boolean;
    /** POST /sessions needs no JWT (the ALLOW_ANONYMOUS_BUILDS demo switch). */
    anonymousBuilds: boolean;
  };
}

/** The local Realtime endpoint does not check the apikey (channels are authorized at join); supabase-js wants one. */
export const LOCAL_API_KEY = 'local';

export function viewerConfig(config: GatewayConfig): ViewerConfig {
  const auth = { devTokens: config.DEV_TOKENS, anonymousBuilds: config.ALLOW_ANONYMOUS_BUILDS };
  if (config.SUPABASE_URL && config.SUPABASE_ANON_KEY) {
    return { realtime: { mode: 'supabase', url: config.SUPABASE_URL, apiKey: config.SUPABASE_ANON_KEY }, auth };
  }
  return { realtime: { mode: 'local', url: config.REALTIME_URL, apiKey: LOCAL_API_KEY }, auth };
}

/**
 * The page may run its own scripts and styles and talk to this origin and the Realtime origin only: no inline
 * code, nothing from a CDN, no framing.
 */
export function contentSecurityPolicy(realtimeUrl: string): string {
  const http = new URL(realtimeUrl);
  const ws = new URL(realtimeUrl);
  ws.protocol = http.protocol === 'https:' ? 'wss:' : 'ws:';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${http.origin} ${ws.origin}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const ASSETS: Record<string, { file: () => string; type: string }> = {
  '/': { file: () => path.join(PUBLIC_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/viewer.js': { file: () => path.join(PUBLIC_DIR, 'viewer.js'), type: 'text/javascript; charset=utf-8' },
  '/viewer.css': { file: () => path.join(PUBLIC_DIR, 'viewer.css'), type: 'text/css; charset=utf-8' },
  // supabase-js's browser bundle, served from node_modules: the page loads nothing from elsewhere.
  '/vendor/supabase.js': {
    file: () => require.resolve('@supabase/supabase-js/dist/umd/supabase.js'),
    type: 'text/javascript; charset=utf-8',
  },
};

/** The build viewer (issue 7): a page that starts a build and follows it live over Realtime. */
@Controller()
@Public()
export class ViewerController {
  private readonly cache = new Map<string, Buffer>();
  private readonly csp: string;

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {
    this.csp = contentSecurityPolicy(viewerConfig(config).realtime.url);
  }

  @Get('config.json')
  realtimeConfig(): ViewerConfig {
    return viewerConfig(this.config);
  }

  @Get()
  index(@Res() reply: FastifyReply): Promise<void> {
    return this.serve('/', reply);
  }

  @Get('viewer.js')
  script(@Res() reply: FastifyReply): Promise<void> {
    return this.serve('/viewer.js', reply);
  }

  @Get('viewer.css')
  style(@Res() reply: FastifyReply): Promise<void> {
    return this.serve('/viewer.css', reply);
  }

  @Get('vendor/supabase.js')
  supabase(@Res() reply: FastifyReply): Promise<void> {
    return this.serve('/vendor/supabase.js', reply);
  }

  private async serve(asset: string, reply: FastifyReply): Promise<void> {
    const { file, type } = ASSETS[asset]!;
    let body = this.cache.get(asset);
    if (!body) {
      try {
        body = await readFile(file());
      } catch {
        throw new NotFoundException(`${asset}: not installed with this gateway`);
      }
      this.cache.set(asset, body);
    }
    await reply
      .header('content-type', type)
      .header('content-security-policy', this.csp)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(body);
  }
}
