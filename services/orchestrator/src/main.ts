import 'reflect-metadata';
import { bootstrapService } from '@vibe/platform';
import { loadOrchestratorConfig } from './config.js';
import { OrchestratorModule } from './orchestrator.module.js';

const config = loadOrchestratorConfig();
void bootstrapService('orchestrator', OrchestratorModule.forRoot(config), { host: config.HOST, port: config.PORT });
