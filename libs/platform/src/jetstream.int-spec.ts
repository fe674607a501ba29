import { createNamespace } from '../../../test/support/index.js';
import { AckPolicy } from '@nats-io/jetstream';
import {
  ACK,
  connectJetStream,
  consumeDurableBatches,
  consumerConfigs,
  ensureTopology,
  streamConfigs,
} from './jetstream.js';

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

describe('consumeDurableBatches', () => {
  it('takes a backlog in full batches, each message once, and a lone message at once', async () => {
    const ns = createNamespace('batches');
    const ctx = await connectJetStream('nats://127.0.0.1:4222', ns.namespace, 'batches-test');
    const stream = `${ns.namespace}_BATCHES`;
    try {
      await ctx.jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
      await ctx.jsm.consumers.add(stream, { durable_name: 'worker', ack_policy: AckPolicy.Explicit });
      await Promise.all(Array.from({ length: 1050 }, (_, n) => ctx.js.publish(`${stream}.m`, `${n}`)));

      const batches: string[][] = [];
      const loop = consumeDurableBatches(
        ctx,
        stream,
        'worker',
        async (msgs) => {
          batches.push(msgs.map((msg) => msg.string()));
          await new Promise((resolve) => setTimeout(resolve, 5));
          return msgs.map(() => ACK);
        },
        { maxBatch: 100, maxInFlight: 2 },
      );
      try {
        const all = () => batches.flat().length;
        for (const deadline = Date.now() + 5000; all() < 1050 && Date.now() < deadline;) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        // The first message starts a batch at once; after it, a second slot takes only a full batch (no batches
        // of one or two between full ones), and the rest waits for a slot.
        const sizes = batches.map((batch) => batch.length);
        expect(sizes.slice(1, -1)).toEqual(Array(sizes.length - 2).fill(100));
        expect(sizes.length).toBeLessThanOrEqual(12);
        expect(new Set(batches.flat()).size).toBe(1050);

        await ctx.js.publish(`${stream}.m`, 'lone');
        for (const deadline = Date.now() + 5000; all() < 1051 && Date.now() < deadline;) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        expect(batches.at(-1)).toEqual(['lone']);
        // Every message acked: nothing pending, nothing waiting for an ack.
        let unsettled = -1;
        for (const deadline = Date.now() + 5000; unsettled !== 0 && Date.now() < deadline;) {
          const info = await ctx.jsm.consumers.info(stream, 'worker');
          unsettled = info.num_pending + info.num_ack_pending;
          if (unsettled !== 0) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(unsettled).toBe(0);
      } finally {
        await loop.stop();
      }
    } finally {
      await ctx.jsm.streams.delete(stream).catch(() => undefined);
      await ctx.nc.close();
      await ns.cleanup();
    }
  });
});
