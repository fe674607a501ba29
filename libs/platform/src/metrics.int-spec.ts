import { createNamespace, NATS_URL, waitFor } from '../../../test/support/index.js';
import {
  ACK,
  connectJetStream,
  consumeDurable,
  consumeLoops,
  ensureTopology,
  publishJson,
  type ConsumeLoop,
  type JetStreamContext,
} from './jetstream.js';
import { metrics } from './metrics.js';

/** Consumer lag as the metrics report it, against the machine's NATS (a namespace of its own). */
describe('consumer lag metrics', () => {
  let namespace: ReturnType<typeof createNamespace>;
  let ctx: JetStreamContext;
  let loop: ConsumeLoop | undefined;

  beforeAll(async () => {
    namespace = createNamespace('mt');
    ctx = await connectJetStream(NATS_URL, namespace.namespace, 'metrics-test');
    await ensureTopology(ctx);
  });

  afterAll(async () => {
    await loop?.stop();
    await ctx?.nc.close();
    await namespace?.cleanup();
  });

  const lagOfProjector = async () =>
    (await metrics.consumerLag()).find(
      (lag) => lag.stream === ctx.topology.streams.events && lag.consumer === ctx.topology.consumers.projector,
    );

  it('report num_pending and num_ack_pending of the consumers this process consumes, and drop them when it stops', async () => {
    const total = 30;
    for (let i = 0; i < total; i++) {
      await publishJson(ctx, ctx.topology.subjects.event('7a1d2c3b-0000-4000-8000-000000000000', 'x'), { i }, `m-${i}`);
    }
    expect(await lagOfProjector()).toBeUndefined(); // nobody consumes it in this process yet

    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    loop = consumeDurable(ctx, ctx.topology.streams.events, ctx.topology.consumers.projector, async () => {
      await gate;
      return ACK;
    });
    expect(consumeLoops(ctx).map(({ loop: l }) => l)).toEqual([loop]);

    // Held by the handler: some delivered and unacknowledged, the rest pending on the server.
    const held = await waitFor(async () => {
      const lag = await lagOfProjector();
      return lag && lag.ackPending > 0 ? lag : undefined;
    });
    expect(loop.state()).toBe('consuming');
    expect(held.pending + held.ackPending).toBe(total);
    expect(held.pending).toBeGreaterThanOrEqual(total - 10); // one pull holds at most 10
    const text = await metrics.registry.metrics();
    const series = `{stream="${ctx.topology.streams.events}",consumer="${ctx.topology.consumers.projector}"}`;
    expect(text).toMatch(new RegExp(`vibe_jetstream_consumer_pending_messages${escape(series)} \\d+`));
    expect(text).toMatch(new RegExp(`vibe_jetstream_consumer_ack_pending_messages${escape(series)} [1-9]\\d*`));

    release();
    await waitFor(async () => {
      const lag = await lagOfProjector();
      return lag?.pending === 0 && lag.ackPending === 0;
    });

    await loop.stop();
    expect(loop.state()).toBe('stopped');
    expect(consumeLoops(ctx)).toEqual([]);
    expect(await waitFor(async () => (await lagOfProjector()) === undefined)).toBe(true);
    expect(await metrics.registry.metrics()).not.toContain(series);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
