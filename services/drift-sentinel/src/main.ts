import 'reflect-metadata';
import { bootstrapService, loadConfig } from '@vibe/platform';
import { SentinelConfig } from './config.js';
import { DriftSentinelModule } from './drift-sentinel.module.js';

const config = loadConfig(SentinelConfig);
void bootstrapService('drift-sentinel', DriftSentinelModule.forRoot(config), { host: config.HOST, port: config.PORT });
