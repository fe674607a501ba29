/**
 * `GET /sessions` without `id` (the caller's sessions, newest first, cursor paging, status filter) and
 * `DELETE /sessions/:id` as the gateway answers them (issue 12). The gateway runs alone against its own control-plane
 * database and NATS namespace: sessions are written as the gateway and the orchestrator write them, and a delete is
 * checked where it goes (the build-command queue). The teardown itself: test/e2e/lifecycle.int-spec.ts.
 */
import type pg from 'pg';
import { DeleteSession, SessionList, newId, stableId, type SessionStatus } from '@vibe/contracts';
import { decodeJson, type JetStreamContext } from '@vibe/platform';
import { aUser, signedIn } from '../../../test/support/auth.js';
import { startLoneGateway, type LoneGateway } from '../../../test/support/gateway.js';

describe('listing and deleting sessions (issue 12)', () => {
  let lone: LoneGateway;
  let gateway: LoneGateway['gateway'];
  let control: pg.Client;
  let nats: JetStreamContext;

  beforeAll(async () => {
    lone = await startLoneGateway('listing');
    ({ gateway, control, nats } = lone);
  });

  afterAll(async () => {
    await lone?.close();
  });

  async function call(method: string, path: string, headers: Record<string, string>) {
    const response = await fetch(`${gateway.url}${path}`, { method, headers });
    const text = await response.text();
    return { status: response.status, text, body: JSON.parse(text) as Record<string, unknown> };
  }

  /** A session as the gateway inserts it, at a chosen creation time (microseconds included), in a chosen state. */
  async function aSession(
    owner: string | null,
    createdAt: string,
    status: SessionStatus = 'succeeded',
    id = newId(),
  ): Promise<string> {
    await control.query(
      `insert into build_sessions (id, status, template, vibe_text, options, created_by, created_at)
       values ($1, $2, 'marketplace', $3, '{}'::jsonb, $4, $5::timestamptz)`,
      [id, status, `vibe ${createdAt}`, owner, createdAt],
    );
    return id;
  }

  async function everyPage(owner: string, query = '', limit = 3): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const params = new URLSearchParams(query);
      params.set('limit', String(limit));
      if (cursor) params.set('cursor', cursor);
      const page = await call('GET', `/sessions?${params.toString()}`, signedIn(owner));
      expect(page.status).toBe(200);
      const parsed = SessionList.parse(page.body);
      expect(parsed.sessions.length).toBeLessThanOrEqual(limit);
      ids.push(...parsed.sessions.map((session) => session.id));
      cursor = parsed.next;
      pages++;
    } while (cursor && pages < 100);
    return { ids, pages };
  }

  describe('GET /sessions without id', () => {
    const alice = aUser();
    const bob = aUser();
    const expected: string[] = [];

    beforeAll(async () => {
      // Eleven sessions of Alice: three in the same microsecond (the id orders them), the rest a microsecond or a
      // day apart; statuses vary. Bob's and an anonymous session in between must never show up in her list.
      const sameMicrosecond = '2030-06-01T10:00:00.000001Z';
      const times = [
        '2030-06-01T09:00:00Z',
        '2030-06-01T09:59:59.999999Z',
        sameMicrosecond,
        sameMicrosecond,
        sameMicrosecond,
        '2030-06-01T10:00:00.000002Z',
        '2030-06-02T10:00:00Z',
        '2030-06-03T10:00:00Z',
        '2030-06-04T10:00:00Z',
        '2030-06-05T10:00:00Z',
        '2030-06-06T10:00:00Z',
      ];
      const statuses: SessionStatus[] = ['succeeded', 'failed', 'running', 'queued', 'canceled'];
      const made: Array<{ id: string; at: string }> = [];
      for (const [i, at] of times.entries()) {
        made.push({ id: await aSession(alice, at, statuses[i % statuses.length]), at });
        await aSession(bob, at);
      }
      await aSession(null, '2030-06-03T12:00:00Z');
      made.sort((a, b) => (a.at === b.at ? (a.id < b.id ? 1 : -1) : a.at < b.at ? 1 : -1));
      expected.push(...made.map((m) => m.id));
    });

    it('returns every session of the caller once, newest first, across pages', async () => {
      const { ids, pages } = await everyPage(alice);
      expect(ids).toEqual(expected);
      expect(pages).toBe(4);
      // The same with pages of one: the three sessions of one microsecond are neither skipped nor repeated.
      expect((await everyPage(alice, '', 1)).ids).toEqual(expected);
      // And one page holding all of them has no next.
      const all = SessionList.parse((await call('GET', '/sessions?limit=100', signedIn(alice))).body);
      expect(all.sessions.map((s) => s.id)).toEqual(expected);
      expect(all.next).toBeNull();
    });

    it('filters by status, still newest first and paged', async () => {
      const { rows } = await control.query<{ id: string }>(
        `select id from build_sessions where created_by = $1 and status = 'succeeded' order by created_at desc, id desc`,
        [alice],
      );
      expect(rows.length).toBeGreaterThanOrEqual(2);
      const { ids } = await everyPage(alice, 'status=succeeded', 1);
      expect(ids).toEqual(rows.map((row) => row.id));
      const list = SessionList.parse((await call('GET', '/sessions?status=succeeded', signedIn(alice))).body);
      expect(list.sessions.every((s) => s.status === 'succeeded')).toBe(true);
    });

    it("never shows another user's sessions; a user without sessions gets an empty page", async () => {
      const { ids: bobs } = await everyPage(bob, '', 50);
      expect(bobs).toHaveLength(11);
      expect(bobs.filter((id) => expected.includes(id))).toEqual([]);
      const nobody = await call('GET', '/sessions', signedIn(aUser()));
      expect(nobody.body).toEqual({ sessions: [], next: null });
    });

    it('needs a signed-in user: no credentials and share tokens get 401', async () => {
      const { rows } = await control.query<{ share_token: string }>(
        'select share_token from build_sessions where id = $1',
        [expected[0]],
      );
      const shareToken = rows[0]!.share_token;
      for (const headers of [{}, { 'x-share-token': shareToken }] as Array<Record<string, string>>) {
        const refused = await call('GET', '/sessions', headers);
        expect(refused.status).toBe(401);
        expect(refused.text).not.toContain(expected[0]);
      }
      expect((await call('GET', `/sessions?share_token=${shareToken}`, {})).status).toBe(401);
      // A share token still reads its own session by id.
      expect((await call('GET', `/sessions?id=${expected[0]}`, { 'x-share-token': shareToken })).status).toBe(200);
    });

    it.each([
      ['limit 0', 'limit=0', 'limit: must be 1 to 100'],
      ['limit above the maximum', 'limit=101', 'limit: must be 1 to 100'],
      ['limit not a number', 'limit=ten', 'limit: '],
      ['an unknown status', 'status=deleted', 'status: '],
      ['a cursor of another kind', 'cursor=djF8MjAzMHx8eA', 'cursor: not a cursor of this API'],
      ['a made-up cursor', 'cursor=%21%21', 'cursor: not a cursor of this API'],
      ['include_deleted not a boolean', 'include_deleted=yes', 'include_deleted: true or false'],
      ['an unknown parameter', 'page=2', 'page: unknown field'],
    ])('answers 400 naming the parameter for %s', async (_why, query, message) => {
      const bad = await call('GET', `/sessions?${query}`, signedIn(alice));
      expect(bad.status).toBe(400);
      expect(bad.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.stringContaining(message) });
    });

    it('leaves deleted sessions out unless asked, and says how they ended', async () => {
      const owner = aUser();
      const kept = await aSession(owner, '2031-01-01T00:00:00Z');
      const deleted = await aSession(owner, '2031-01-02T00:00:00Z');
      const expired = await aSession(owner, '2031-01-03T00:00:00Z');
      // As the orchestrator records a teardown (migration 0006).
      await control.query(
        `update build_sessions set deleted_at = now(), deletion_reason = 'owner', teardown_completed_at = now()
         where id = $1`,
        [deleted],
      );
      await control.query(`update build_sessions set deleted_at = now(), deletion_reason = 'expired' where id = $1`, [
        expired,
      ]);
      const listed = SessionList.parse((await call('GET', '/sessions', signedIn(owner))).body);
      expect(listed.sessions.map((s) => [s.id, s.deletion])).toEqual([[kept, null]]);
      const all = SessionList.parse((await call('GET', '/sessions?include_deleted=true', signedIn(owner))).body);
      expect(all.sessions.map((s) => [s.id, s.deletion?.reason ?? null, s.deletion?.completedAt !== null])).toEqual([
        [expired, 'expired', false],
        [deleted, 'owner', true],
        [kept, null, true],
      ]);
      // The session itself stays readable, saying it was deleted.
      const one = await call('GET', `/sessions?id=${deleted}`, signedIn(owner));
      expect(one.status).toBe(200);
      expect(one.body.deletion).toMatchObject({ reason: 'owner', completedAt: expect.any(String) });
    });
  });

  describe('DELETE /sessions/:id', () => {
    async function lastDeleteCommand(): Promise<DeleteSession | null> {
      const stored = await nats.jsm.streams
        .getMessage(nats.topology.streams.buildCommands, {
          last_by_subj: nats.topology.subjects.buildCommand('delete'),
        })
        .catch(() => null);
      return stored ? DeleteSession.parse(decodeJson(stored.data)) : null;
    }

    it("queues the owner's delete as a command for the orchestrators (202), idempotently", async () => {
      const owner = aUser();
      const id = await aSession(owner, '2032-01-01T00:00:00Z');
      const before = (await nats.jsm.streams.info(nats.topology.streams.buildCommands)).state.messages;
      const deleted = await call('DELETE', `/sessions/${id}`, signedIn(owner));
      expect(deleted).toMatchObject({ status: 202, body: { sessionId: id, deleteRequested: true } });
      expect(await lastDeleteCommand()).toEqual({
        kind: 'delete',
        version: 1,
        commandId: stableId(id, 'delete'),
        sessionId: id,
        reason: 'owner',
      });
      // A repeat is accepted and dropped by JetStream as a duplicate of the same command id.
      expect((await call('DELETE', `/sessions/${id}`, signedIn(owner))).status).toBe(202);
      expect((await nats.jsm.streams.info(nats.topology.streams.buildCommands)).state.messages).toBe(before + 1);
      // Nothing was written by the gateway: the orchestrator records the deletion when it carries it out.
      const { rows } = await control.query('select deleted_at from build_sessions where id = $1', [id]);
      expect(rows).toEqual([{ deleted_at: null }]);
    });

    it('refuses everyone but the owner: another user and a share token alike, without a command', async () => {
      const owner = aUser();
      const id = await aSession(owner, '2032-01-02T00:00:00Z');
      const { rows } = await control.query<{ share_token: string }>(
        'select share_token from build_sessions where id = $1',
        [id],
      );
      const before = (await nats.jsm.streams.info(nats.topology.streams.buildCommands)).state.messages;
      const other = await call('DELETE', `/sessions/${id}`, signedIn(aUser()));
      expect(other.status).toBe(404);
      expect(other.body.message).toBe(`id: no session ${id}`);
      expect((await call('DELETE', `/sessions/${id}`, {})).status).toBe(401);
      expect((await call('DELETE', `/sessions/${id}`, { 'x-share-token': rows[0]!.share_token })).status).toBe(401);
      expect((await call('DELETE', `/sessions/${newId()}`, signedIn(owner))).status).toBe(404);
      const invalid = await call('DELETE', '/sessions/not-a-uuid', signedIn(owner));
      expect(invalid.status).toBe(400);
      expect(invalid.body.message).toMatch(/^id: /);
      expect((await nats.jsm.streams.info(nats.topology.streams.buildCommands)).state.messages).toBe(before);
    });
  });
});
