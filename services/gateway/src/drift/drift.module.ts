import { Module } from '@nestjs/common';
import { DriftChecksClient } from './drift-checks.client.js';
import { DriftController } from './drift.controller.js';
import { DriftRepository } from './drift.repository.js';

/** `POST /sessions/:id/drift-check` and `GET /sessions/:id/drift` (spec §10.1). */
@Module({ controllers: [DriftController], providers: [DriftRepository, DriftChecksClient] })
export class DriftModule {}
