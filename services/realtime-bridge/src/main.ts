import 'reflect-metadata';
import { bootstrapService, loadConfig } from '@vibe/platform';
import { BridgeConfig } from './config.js';
import { RealtimeBridgeModule } from './realtime-bridge.module.js';

const config = loadConfig(BridgeConfig);
void bootstrapService('realtime-bridge', RealtimeBridgeModule.forRoot(config), {
  host: config.HOST,
  port: config.PORT,
});
