import {
  BadGatewayException,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  HttpStatus,
  NotFoundException,
  Param,
  Post,
  Query,
  ServiceUnavailableException,
} from '@nestjs/common';
import { DriftAlertStatus, type DriftAlertView, type DriftReport } from '@vibe/contracts';
import { z } from 'zod';
import { ReadsSession, WritesSession } from '../auth/auth.decorators.js';
import { ZodValidationPipe } from '../http/zod-validation.pipe.js';
import { DriftCheckTimeout, DriftChecksClient } from './drift-checks.client.js';
import { DriftRepository } from './drift.repository.js';

const SessionPath = z.strictObject({ id: z.uuid() });
type SessionPath = z.infer<typeof SessionPath>;
const ListDriftQuery = z.strictObject({ status: DriftAlertStatus.optional() });
type ListDriftQuery = z.infer<typeof ListDriftQuery>;

/**
 * Drift of a session's environment (spec §10.1): its owner runs checks; its owner and holders of its share
 * token read its alerts (the AuthGuard).
 */
@Controller('sessions')
export class DriftController {
  constructor(
    private readonly alerts: DriftRepository,
    private readonly checks: DriftChecksClient,
  ) {}

  /**
   * Runs a drift check now, through a drift sentinel, and answers what it found: 200 with the report (each
   * finding with its alert, severity, spec chunk and the SQL that restores the plan, and the alerts it
   * resolved). 404 for an unknown session, 409 when the session cannot be checked (not succeeded, a build
   * running, no environment), 503 when no sentinel answers in time or the check failed for a while.
   */
  @Post(':id/drift-check')
  @WritesSession('path', 'id')
  @HttpCode(HttpStatus.OK)
  async check(@Param(new ZodValidationPipe(SessionPath, 'path')) path: SessionPath): Promise<DriftReport> {
    if (!(await this.alerts.sessionExists(path.id))) throw new NotFoundException(`id: no session ${path.id}`);
    let result;
    try {
      result = await this.checks.run(path.id);
    } catch (error) {
      if (error instanceof DriftCheckTimeout) throw new ServiceUnavailableException(`${error.message}; retry later`);
      throw error;
    }
    if (result.ok) return result.report;
    const { code, message, transient } = result.error;
    switch (code) {
      case 'not_found':
        throw new NotFoundException(`id: no session ${path.id}`);
      case 'not_checkable':
        throw new ConflictException(`id: session ${path.id} cannot be checked now: ${message}`);
      case 'failed':
        throw transient ? new ServiceUnavailableException(`${message}; retry later`) : new BadGatewayException(message);
      default: {
        const unknown: never = code;
        throw new Error(`unknown drift check error ${String(unknown)}`);
      }
    }
  }

  /** The session's drift alerts, open ones first, newest first; `?status=open|resolved` filters. 404 for no session. */
  @Get(':id/drift')
  @ReadsSession('path', 'id')
  async list(
    @Param(new ZodValidationPipe(SessionPath, 'path')) path: SessionPath,
    @Query(new ZodValidationPipe(ListDriftQuery, 'query')) query: ListDriftQuery,
  ): Promise<DriftAlertView[]> {
    const alerts = await this.alerts.listForSession(path.id, query.status);
    if (!alerts) throw new NotFoundException(`id: no session ${path.id}`);
    return alerts;
  }
}
