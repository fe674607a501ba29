import { createNamespace } from '../../../test/support/index.js';
import { connectJetStream, consumerConfigs, ensureTopology, streamConfigs } from './jetstream.js';

describe('ensureTopology', () => {
  it('creates every stream, consumer and the presence bucket, and is idempotent, also from several services at once', async () => {
    const ns = createNamespace('topo');
    const ctxs = await Promise.all(
      [1, 2, 3].map((i) => connectJetStream('nats://127.0.0.1:4222', ns.namespace, `topology-test-${i}`)),
    );
    try {
      await Promise.all(ctxs.map((ctx) => ensureTopology(ctx)));
      await ensureTopology(ctxs[0]!);
      const ctx = ctxs[0]!;
      for (const config of streamConfigs(ctx.topology)) {
        const info = await ctx.jsm.streams.info(config.name);
        expect(info.config.subjects).toEqual(config.subjects);
        expect(info.config.retention).toBe(config.retention);
      }
      for (const { stream, config } of consumerConfigs(ctx.topology)) {
        const info = await ctx.jsm.consumers.info(stream, config.durable_name);
        expect(info.config.ack_policy).toBe(config.ack_policy);
      }
      const kv = await ctx.jsm.streams.info(`KV_${ctx.topology.kv.presence}`);
      expect(kv.config.max_msgs_per_subject).toBe(1);
    } finally {
      await Promise.all(ctxs.map((ctx) => ctx.nc.close()));
      await ns.cleanup();
    }
  });

  it('brings a stream whose settings drifted back to the declared ones', async () => {
    const ns = createNamespace('topo');
    const ctx = await connectJetStream('nats://127.0.0.1:4222', ns.namespace, 'topology-test');
    try {
      await ensureTopology(ctx);
      const events = streamConfigs(ctx.topology)[0]!;
      await ctx.jsm.streams.update(events.name, { ...events, max_age: 3600 * 1e9 });
      await ensureTopology(ctx);
      expect((await ctx.jsm.streams.info(events.name)).config.max_age).toBe(events.max_age);
    } finally {
      await ctx.nc.close();
      await ns.cleanup();
    }
  });
});
