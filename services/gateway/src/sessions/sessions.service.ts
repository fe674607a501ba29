import {
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import {
  type CancelSessionResponse,
  type CreateSessionRequest,
  type CreateSessionResponse,
  type DeleteSessionResponse,
  type SessionList,
  type SessionStatus,
  type SessionView,
} from '@vibe/contracts';
import { redactText } from '@vibe/platform';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config.js';
import { TooManyRequestsException } from '../limits/rate-limits.js';
import { BuildCommandsPublisher } from './build-commands.publisher.js';
import { type SessionCursor } from './session-cursor.js';
import { SessionsRepository } from './sessions.repository.js';

@Injectable()
export class SessionsService {
  private readonly logger = new Logger('Sessions');

  constructor(
    private readonly sessions: SessionsRepository,
    private readonly commands: BuildCommandsPublisher,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /**
   * Records the session, then queues its build (spec §4.4). The row is committed before the command is
   * published so that an orchestrator receiving the command always finds it: publishing inside the open
   * transaction and committing afterwards let the command arrive first in 230 of 300 tries on this
   * machine. If the queue refuses the command, the row is deleted again and the client is told 503, so
   * nothing is left half-done; should the process die in between, the session stays queued and is
   * adopted by the orchestrator (DESIGN.md §4).
   *
   * `createdBy` is the owner (null: an anonymous build under ALLOW_ANONYMOUS_BUILDS). A user with
   * MAX_ACTIVE_BUILDS_PER_USER builds queued or running is answered 429 and nothing is written; anonymous
   * builds share one such allowance.
   */
  async create(request: CreateSessionRequest, createdBy: string | null): Promise<CreateSessionResponse> {
    const max = this.config.MAX_ACTIVE_BUILDS_PER_USER;
    // Nobody can delete an anonymous build (it has no owner): it is a demo build, so it expires (issue 12).
    if (createdBy === null) request = { ...request, options: { ...request.options, demo: true } };
    const inserted = await this.sessions.insertQueued(request, createdBy, max);
    if ('active' in inserted) {
      throw new TooManyRequestsException(
        `builds: ${createdBy ? 'you have' : 'anonymous callers have'} ${inserted.active} build(s) queued or running, ` +
          `the most allowed at once is ${max}; wait for one to finish (or cancel one) and retry`,
      );
    }
    const { id: sessionId, shareToken } = inserted;
    try {
      await this.commands.start(sessionId);
    } catch (error) {
      this.logger.error(`build queue refused session ${sessionId}: ${redactText(String(error))}`);
      await this.sessions.deleteQueued(sessionId).catch((deleteError: unknown) => {
        this.logger.error(
          `session ${sessionId} stays queued for adoption; deleting it failed: ${redactText(String(deleteError))}`,
        );
      });
      throw new ServiceUnavailableException('build queue unavailable; the session was not created, retry later');
    }
    // The creator gets the share token: it lets them (and whom they give it) follow the build (issue 7).
    return { sessionId, shareToken };
  }

  /**
   * Asks for the build to be canceled (issue 4): the orchestrator records it and the session becomes
   * `canceled` at the next node boundary, with its environment removed. A finished session cannot be
   * canceled (409); a build that finishes while the request travels stays finished. Only its owner gets here
   * (the AuthGuard).
   */
  async cancel(id: string): Promise<CancelSessionResponse> {
    const session = await this.sessions.find(id);
    if (!session) throw new NotFoundException(`id: no session ${id}`);
    if (session.status === 'succeeded' || session.status === 'failed' || session.status === 'canceled') {
      throw new ConflictException(
        `id: session ${id} has already ${session.status === 'canceled' ? 'been canceled' : session.status}; only a queued or running build can be canceled`,
      );
    }
    try {
      await this.commands.cancel(id);
    } catch (error) {
      this.logger.error(`build queue refused the cancel of session ${id}: ${redactText(String(error))}`);
      throw new ServiceUnavailableException('build queue unavailable; the cancel was not recorded, retry later');
    }
    return { sessionId: id, cancelRequested: true };
  }

  /** The caller's sessions, a page at a time (issue 12). Only signed-in users get here (the AuthGuard). */
  list(
    owner: string,
    options: { limit: number; after?: SessionCursor; status?: SessionStatus; includeDeleted: boolean },
  ): Promise<SessionList> {
    return this.sessions.listForOwner(owner, options);
  }

  /**
   * Deletes a session for good (issue 12): queues its teardown, which an orchestrator carries out (a build still
   * going is canceled first, the environment removed, `environment_deleted` emitted); the row and its events stay.
   * Repeating it is harmless; once the teardown has completed nothing is sent again. Only its owner gets here.
   */
  async delete(id: string): Promise<DeleteSessionResponse> {
    const session = await this.sessions.find(id);
    if (!session) throw new NotFoundException(`id: no session ${id}`);
    if (!session.deletion?.completedAt) {
      try {
        await this.commands.delete(id, 'owner');
      } catch (error) {
        this.logger.error(`build queue refused the delete of session ${id}: ${redactText(String(error))}`);
        throw new ServiceUnavailableException('build queue unavailable; the delete was not recorded, retry later');
      }
    }
    return { sessionId: id, deleteRequested: true };
  }

  async get(id: string, options: { withShareToken?: boolean } = {}): Promise<SessionView> {
    const session = await this.sessions.find(id, options);
    if (!session) throw new NotFoundException(`id: no session ${id}`);
    return session;
  }
}
