import 'reflect-metadata';
import { bootstrapService } from '@vibe/platform';
import { loadProvisionerConfig } from './config.js';
import { ProvisionerModule } from './provisioner.module.js';

const config = loadProvisionerConfig();
void bootstrapService('provisioner', ProvisionerModule.forRoot(config), { host: config.HOST, port: config.PORT });
