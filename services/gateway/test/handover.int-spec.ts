/**
 * `GET /sessions/:id/types` (issue 12): the types file of a succeeded build, for the session's owner and holders
 * of its share token, as the OpenAPI document says; the same 404 for everyone else; 409 until the build has
 * succeeded. Sessions are written directly (no build runs here; test/e2e/handover.int-spec.ts runs real ones).
 */
import type pg from 'pg';
import { newId } from '@vibe/contracts';
import { aUser, signedIn } from '../../../test/support/auth.js';
import { startLoneGateway, type LoneGateway } from '../../../test/support/gateway.js';
import { openApiDocument } from '../src/openapi/openapi.document.js';

const TYPES = 'export type Json = string\n\nexport type Database = { public: { Tables: {} } }\n';

describe('GET /sessions/:id/types', () => {
  let lone: LoneGateway;
  let gateway: LoneGateway['gateway'];
  let control: pg.Client;

  const owner = aUser();
  const stranger = aUser();

  beforeAll(async () => {
    lone = await startLoneGateway('handover');
    ({ gateway, control } = lone);
  });

  afterAll(async () => {
    await lone?.close();
  });

  /** A session of `owner` in the given state; its id and share token. */
  async function aSession(status: string, outputs: object | null): Promise<{ id: string; shareToken: string }> {
    const { rows } = await control.query<{ id: string; share_token: string }>(
      `insert into build_sessions (status, template, vibe_text, options, outputs, created_by)
       values ($1, 'marketplace', 'a shop', '{}', $2::jsonb, $3) returning id, share_token`,
      [status, outputs === null ? null : JSON.stringify(outputs), owner],
    );
    return { id: rows[0]!.id, shareToken: rows[0]!.share_token };
  }

  async function get(path: string, headers: Record<string, string> = {}) {
    const response = await fetch(`${gateway.url}${path}`, { headers });
    return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
  }

  it('serves the types to the owner and to a share-token holder, as a TypeScript file', async () => {
    const session = await aSession('succeeded', { frontend: { types: TYPES } });
    const asOwner = await get(`/sessions/${session.id}/types`, signedIn(owner));
    expect(asOwner).toEqual({ status: 200, type: 'application/typescript; charset=utf-8', text: TYPES });
    expect(await get(`/sessions/${session.id}/types`, { 'x-share-token': session.shareToken })).toEqual(asOwner);
    expect(await get(`/sessions/${session.id}/types?share_token=${session.shareToken}`)).toEqual(asOwner);
    // The media type is the one the API document gives.
    const documented = openApiDocument().paths['/sessions/{id}/types']!.get!.responses['200']!.content!;
    expect(Object.keys(documented)).toEqual([asOwner.type!.split(';')[0]]);
  });

  it('answers everyone else as for a session that does not exist', async () => {
    const session = await aSession('succeeded', { frontend: { types: TYPES } });
    const other = await aSession('succeeded', { frontend: { types: TYPES } });
    const unknown = await get(`/sessions/${newId()}/types`, signedIn(owner));
    expect(unknown.status).toBe(404);
    const foreign = await get(`/sessions/${session.id}/types`, signedIn(stranger));
    expect(foreign.status).toBe(404);
    expect(JSON.parse(foreign.text)).toMatchObject({ statusCode: 404 });
    expect(foreign.text).not.toContain('export type');
    // Another session's share token opens only that session.
    expect((await get(`/sessions/${session.id}/types`, { 'x-share-token': other.shareToken })).status).toBe(404);
    expect((await get(`/sessions/${session.id}/types`)).status).toBe(401);
    expect((await get('/sessions/nope/types', signedIn(owner))).status).toBe(400);
  });

  it('says 409 while the build has not succeeded, and for builds from before the handover', async () => {
    for (const status of ['queued', 'running', 'failed', 'canceled']) {
      const session = await aSession(status, null);
      const answer = await get(`/sessions/${session.id}/types`, signedIn(owner));
      expect([status, answer.status]).toEqual([status, 409]);
      expect(JSON.parse(answer.text).message).toMatch(new RegExp(`is ${status}; its types exist once its build`));
    }
    const older = await aSession('succeeded', { tables: [] });
    const answer = await get(`/sessions/${older.id}/types`, signedIn(owner));
    expect(answer.status).toBe(409);
    expect(JSON.parse(answer.text).message).toMatch(/before builds handed over TypeScript types/);
  });
});
