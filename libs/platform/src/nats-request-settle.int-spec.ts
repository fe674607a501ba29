import { RequestOne } from '@nats-io/nats-core/internal';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createNamespace } from '../../../test/support/index.js';
import { connectJetStream } from './jetstream.js';
import { applyRequestSettleFix } from './nats-request-settle.js';

const NATS_URL = 'nats://127.0.0.1:4222';

/** Requests the connection's mux still waits for: none once every request has settled. */
function waitingRequests(nc: NatsConnection): number {
  return (nc as unknown as { protocol: { muxSubscriptions: { size(): number } } }).protocol.muxSubscriptions.size();
}

describe('applyRequestSettleFix (nats-core settles a request without building an error)', () => {
  let nc: NatsConnection;

  beforeAll(async () => {
    // Applies to the installed nats-core: when an upgrade changes the code it was written against, this fails,
    // and whoever upgrades looks at whether the fix is still needed.
    expect(applyRequestSettleFix()).toBe(true);
    nc = await connect({ servers: NATS_URL, noAsyncTraces: true });
  });

  afterAll(async () => {
    await nc.close();
  });

  afterEach(() => jest.restoreAllMocks());

  it('answers requests as before, without calling cancel() (the error it builds) once a reply came', async () => {
    const subject = `settle.echo.${process.pid}.${Date.now()}`;
    const sub = nc.subscribe(subject, {
      callback: (_err, msg) => {
        msg.respond(msg.data);
      },
    });
    const cancel = jest.spyOn(RequestOne.prototype, 'cancel');
    try {
      const replies = await Promise.all(
        Array.from({ length: 50 }, (_, n) => nc.request(subject, new TextEncoder().encode(`n${n}`), { timeout: 2000 })),
      );
      expect(replies.map((reply) => reply.string())).toEqual(Array.from({ length: 50 }, (_, n) => `n${n}`));
      expect(cancel).not.toHaveBeenCalled();
      expect(waitingRequests(nc)).toBe(0);
    } finally {
      sub.unsubscribe();
    }
  });

  it('still fails a request nobody answers, and one that times out, with the library errors', async () => {
    // The failure path is the library's own, which cancels: the spy sees the class the connection uses.
    const cancel = jest.spyOn(RequestOne.prototype, 'cancel');
    await expect(
      nc.request(`settle.nobody.${process.pid}.${Date.now()}`, undefined, { timeout: 2000 }),
    ).rejects.toThrow(/no responders/i);
    const subject = `settle.silent.${process.pid}.${Date.now()}`;
    const sub = nc.subscribe(subject, { callback: () => undefined });
    try {
      await expect(nc.request(subject, undefined, { timeout: 100 })).rejects.toThrow(/timeout/i);
    } finally {
      sub.unsubscribe();
    }
    expect(cancel).toHaveBeenCalled();
    expect(waitingRequests(nc)).toBe(0);
  });

  it('is applied by connectJetStream: JetStream publishes are acknowledged, a publish no stream takes fails', async () => {
    const ns = createNamespace('settle');
    const ctx = await connectJetStream(NATS_URL, ns.namespace, 'settle-test');
    const stream = `${ns.namespace}_SETTLE`;
    try {
      const jsm = await jetstreamManager(ctx.nc);
      await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
      const acks = await Promise.all(
        Array.from({ length: 20 }, (_, n) => ctx.js.publish(`${stream}.x`, `m${n}`, { msgID: `id-${n}` })),
      );
      expect(acks.map((ack) => ack.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n + 1));
      expect((await ctx.js.publish(`${stream}.x`, 'again', { msgID: 'id-3' })).duplicate).toBe(true);
      await expect(ctx.js.publish(`${ns.namespace}_NO_STREAM.x`, 'lost', { timeout: 2000 })).rejects.toThrow();
      expect(waitingRequests(ctx.nc)).toBe(0);
    } finally {
      await jetstreamManager(ctx.nc)
        .then((jsm) => jsm.streams.delete(stream))
        .catch(() => undefined);
      await ctx.nc.close();
      await ns.cleanup();
    }
  });
});
