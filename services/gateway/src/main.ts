import 'reflect-metadata';
import { bootstrapService, loadConfig } from '@vibe/platform';
import { BODY_LIMIT_BYTES, GatewayConfig } from './config.js';
import { GatewayModule } from './gateway.module.js';
import { configureHttpSecurity } from './http/http-security.js';

const config = loadConfig(GatewayConfig);
void bootstrapService(
  'gateway',
  GatewayModule.forRoot(config),
  { host: config.HOST, port: config.PORT },
  BODY_LIMIT_BYTES,
  (app) => configureHttpSecurity(app, config),
);
