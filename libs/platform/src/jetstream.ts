import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { BuildEvent, topology, type Topology } from '@vibe/contracts';
import { applyRequestSettleFix } from './nats-request-settle.js';

export interface JetStreamContext {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly topology: Topology;
}

export async function connectJetStream(url: string, namespace: string, name: string): Promise<JetStreamContext> {
  applyRequestSettleFix();
  const nc = await connect({
    servers: url,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // Every JetStream publish is a request, and by default each request captures a stack trace up front (for
    // the rare timeout): a fifth of the publisher's and the projector's CPU in the events bench (issue 11).
    // Errors still say what failed; they lose only the caller's stack.
    noAsyncTraces: true,
  });
  const jsm = await jetstreamManager(nc);
  return { nc, js: jetstream(nc), jsm, topology: topology(namespace) };
}

const DAY_NS = nanos(24 * 60 * 60 * 1000);

/**
 * STREAM AND CONSUMER CONFIG: persisted on the NATS server. Changing a field here updates existing
 * streams on the next start; renaming creates new ones and strands the old.
 */
export function streamConfigs(t: Topology): Array<Partial<StreamConfig> & { name: string }> {
  return [
    {
      name: t.streams.events,
      subjects: [t.subjects.allEvents],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: 365 * DAY_NS,
      // Re-published events (a node run again after a crash) are dropped by id within this window.
      duplicate_window: nanos(30 * 60 * 1000),
    },
    {
      name: t.streams.buildCommands,
      subjects: [t.subjects.allBuildCommands],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      max_age: 7 * DAY_NS,
      duplicate_window: nanos(30 * 60 * 1000),
    },
    {
      name: t.streams.provisionCommands,
      subjects: [t.subjects.allProvisionCommands],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      max_age: 7 * DAY_NS,
      duplicate_window: nanos(30 * 60 * 1000),
    },
    {
      name: t.streams.provisionResults,
      subjects: [t.subjects.allProvisionResults],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: 7 * DAY_NS,
      duplicate_window: nanos(30 * 60 * 1000),
    },
    {
      // Every sentinel replica publishes each round's jobs; the window keeps one job per environment and round.
      // A job older than an hour belongs to a round that a later one has replaced.
      name: t.streams.driftChecks,
      subjects: [t.subjects.allDriftChecks],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      max_age: nanos(60 * 60 * 1000),
      duplicate_window: nanos(30 * 60 * 1000),
    },
    {
      name: t.streams.driftResults,
      subjects: [t.subjects.allDriftResults],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: DAY_NS,
      duplicate_window: nanos(30 * 60 * 1000),
    },
  ];
}

export function consumerConfigs(
  t: Topology,
): Array<{ stream: string; config: Partial<ConsumerConfig> & { durable_name: string } }> {
  return [
    {
      stream: t.streams.buildCommands,
      config: {
        durable_name: t.consumers.orchestrator,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(60_000),
        max_deliver: 20,
        max_ack_pending: 64,
      },
    },
    {
      stream: t.streams.provisionCommands,
      config: {
        durable_name: t.consumers.provisioner,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(60_000),
        max_deliver: 20,
        max_ack_pending: 256,
      },
    },
    {
      stream: t.streams.events,
      config: {
        durable_name: t.consumers.projector,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        // Short, so that what a dead bridge had pulled comes back within seconds; the projector's handling is
        // milliseconds and it keeps a slow batch alive with working() (heartbeat 1.5 s).
        ack_wait: nanos(5_000),
        max_ack_pending: 10_000,
      },
    },
    // Two consumers on one work queue, with filters that do not overlap (one filter each: NATS 2.9).
    {
      stream: t.streams.driftChecks,
      config: {
        durable_name: t.consumers.driftScheduled,
        filter_subject: t.subjects.driftCheck('scheduled'),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(60_000),
        max_deliver: 5,
        max_ack_pending: 256,
      },
    },
    {
      stream: t.streams.driftChecks,
      config: {
        durable_name: t.consumers.driftRequests,
        filter_subject: t.subjects.driftCheck('request'),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(60_000),
        max_deliver: 5,
        max_ack_pending: 64,
      },
    },
  ];
}

/** Creates the streams, durable consumers and KV bucket if missing, and updates them if they differ. */
export async function ensureTopology(ctx: JetStreamContext): Promise<void> {
  for (const config of streamConfigs(ctx.topology)) {
    try {
      await ctx.jsm.streams.info(config.name);
      await ctx.jsm.streams.update(config.name, config);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await ctx.jsm.streams.add(config).catch(async (addError: unknown) => {
        // Another service created it between our info and our add.
        if (!/already in use/i.test(String(addError))) throw addError;
      });
    }
  }
  for (const { stream, config } of consumerConfigs(ctx.topology)) {
    await ctx.jsm.consumers.add(stream, config).catch(async (error: unknown) => {
      if (!/already exists|already in use/i.test(String(error))) throw error;
      await ctx.jsm.consumers.update(stream, config.durable_name, config);
    });
  }
  await presenceBucket(ctx);
}

function isNotFound(error: unknown): boolean {
  return /not found/i.test(String(error));
}

export async function presenceBucket(ctx: JetStreamContext): Promise<KV> {
  return new Kvm(ctx.js).create(ctx.topology.kv.presence, { history: 1, ttl: 7 * 24 * 60 * 60 * 1000 });
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeJson(data: Uint8Array): unknown {
  return JSON.parse(decoder.decode(data));
}

/** Publishes a build event; its id is the Nats-Msg-Id, so a re-publish within the window is dropped. */
export async function publishEvent(ctx: JetStreamContext, event: BuildEvent): Promise<void> {
  const parsed = BuildEvent.parse(event);
  await ctx.js.publish(ctx.topology.subjects.event(parsed.sessionId, parsed.type), encodeJson(parsed), {
    msgID: parsed.id,
  });
}

export async function publishJson(
  ctx: JetStreamContext,
  subject: string,
  value: unknown,
  msgID: string,
): Promise<void> {
  await ctx.js.publish(subject, encodeJson(value), { msgID });
}

/** What a handler decided about a message. */
export type Disposition = { ack: true } | { nak: number } | { term: string };
export const ACK: Disposition = { ack: true };

/**
 * Where a consume loop is: setting up its pull (`starting`), pulling (`consuming`; this includes riding out a
 * NATS reconnect, after which the pull resumes), waiting to set up again after an error (`retrying`), ended.
 */
export type ConsumeLoopState = 'starting' | 'consuming' | 'retrying' | 'stopped';

export interface ConsumeLoop {
  stop(): Promise<void>;
  /** Resolves when the loop has ended. */
  readonly done: Promise<void>;
  readonly stream: string;
  readonly durable: string;
  state(): ConsumeLoopState;
  /** The error that sent the loop to `retrying`, while it is there. */
  lastError(): string | undefined;
}

/** The consume loops running in this process, by connection: what readiness and the lag metrics look at. */
const runningLoops = new Map<ConsumeLoop, JetStreamContext>();

/** The consume loops started (and not yet stopped) on a connection, or on every connection of the process. */
export function consumeLoops(ctx?: JetStreamContext): Array<{ ctx: JetStreamContext; loop: ConsumeLoop }> {
  return [...runningLoops]
    .filter(([, owner]) => ctx === undefined || owner === ctx)
    .map(([loop, owner]) => ({ ctx: owner, loop }));
}

export interface ConsumeOptions {
  /** How many messages are handled at once. */
  concurrency?: number;
  onError?: (error: unknown, msg: JsMsg) => void;
  /** Called with the reason when a message is terminated (poison): the place to record it. */
  onTerm?: (reason: string, msg: JsMsg) => void;
  /** How often a message being handled is kept alive with `working()`; below the consumer's ack wait. */
  heartbeatMs?: number;
}

/** Carries out a handler's decision about one message. */
async function settle(msg: JsMsg, disposition: Disposition, options: ConsumeOptions): Promise<void> {
  if ('ack' in disposition) await msg.ackAck().catch(() => msg.ack());
  else if ('nak' in disposition) msg.nak(disposition.nak);
  else {
    // NATS 2.9 ignores `+TERM <reason>` (the message stays pending); a bare term works everywhere.
    options.onTerm?.(disposition.term, msg);
    msg.term();
  }
}

/**
 * Pulls from a durable consumer and hands each message to `handle`, which acks only after its effect is
 * durable; a thrown error naks with a delay so the message comes back. While a handler runs, the message
 * is kept alive with `working()`.
 */
export function consumeDurable(
  ctx: JetStreamContext,
  stream: string,
  durable: string,
  handle: (msg: JsMsg) => Promise<Disposition>,
  options: ConsumeOptions = {},
): ConsumeLoop {
  const concurrency = options.concurrency ?? 1;
  const inFlight = new Set<Promise<void>>();

  const runOne = async (msg: JsMsg): Promise<void> => {
    const heartbeat = setInterval(() => msg.working(), options.heartbeatMs ?? 10_000);
    try {
      await settle(msg, await handle(msg), options);
    } catch (error) {
      options.onError?.(error, msg);
      msg.nak(backoff(msg.info.deliveryCount));
    } finally {
      clearInterval(heartbeat);
    }
  };

  return consumeLoop(ctx, stream, durable, Math.max(concurrency * 2, 10), options, {
    async accept(msg) {
      const task = runOne(msg).finally(() => inFlight.delete(task));
      inFlight.add(task);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    },
    async drain() {
      await Promise.allSettled(inFlight);
    },
  });
}

export interface BatchConsumeOptions extends Omit<ConsumeOptions, 'concurrency'> {
  /** The most messages handed to one call of the handler. */
  maxBatch?: number;
  /**
   * Batches handled at once (default 1): with 2, the next batch is decoded while the last one is written. The
   * handler then settles each batch on its own; whatever it does in stream order it must order itself.
   */
  maxInFlight?: number;
}

/**
 * Like `consumeDurable`, for handlers that make many messages durable at once (one insert, one commit).
 * Batches are started in stream order, `maxInFlight` at a time (one by default); the messages that arrive
 * meanwhile make the next batch. So a lone message is handled at once (a batch of one), and a backlog is
 * taken `maxBatch` at a time. `handle` returns one disposition per message, carried out after it returns
 * (ack only after its commit); a thrown error naks the whole batch with a delay.
 */
export function consumeDurableBatches(
  ctx: JetStreamContext,
  stream: string,
  durable: string,
  handle: (msgs: JsMsg[]) => Promise<Disposition[]>,
  options: BatchConsumeOptions = {},
): ConsumeLoop {
  const maxBatch = options.maxBatch ?? 500;
  const maxInFlight = options.maxInFlight ?? 1;
  let pending: JsMsg[] = [];
  const running = new Set<Promise<void>>();

  const runBatch = async (batch: JsMsg[]): Promise<void> => {
    // Keeps the batch and what waits behind it alive: both are pulled and count against the ack wait.
    const heartbeat = setInterval(() => {
      for (const msg of [...batch, ...pending]) msg.working();
    }, options.heartbeatMs ?? 10_000);
    try {
      const dispositions = await handle(batch);
      if (dispositions.length !== batch.length) {
        throw new Error(`the handler settled ${dispositions.length} of ${batch.length} messages`);
      }
      // Plain acks and one flush (a round trip: the server has read them all) rather than a request per ack.
      for (const [i, msg] of batch.entries()) {
        const disposition = dispositions[i]!;
        if ('ack' in disposition) msg.ack();
        else await settle(msg, disposition, options);
      }
      await ctx.nc.flush();
    } catch (error) {
      for (const msg of batch) {
        options.onError?.(error, msg);
        msg.nak(backoff(msg.info.deliveryCount));
      }
    } finally {
      clearInterval(heartbeat);
    }
  };
  // A batch starts when nothing is running, or when a full one waits. Starting whatever has arrived as soon as a
  // slot frees alternated, under a backlog, full batches with batches of one (each a statement and a commit of
  // its own): 199 batches of 500 and 146 of one in a trace of the events bench (issue 11).
  const kick = () => {
    while (running.size < maxInFlight && pending.length > 0 && (running.size === 0 || pending.length >= maxBatch)) {
      const batch = pending.slice(0, maxBatch);
      pending = pending.slice(maxBatch);
      const task: Promise<void> = runBatch(batch).finally(() => {
        running.delete(task);
        kick();
      });
      running.add(task);
    }
  };

  return consumeLoop(ctx, stream, durable, maxBatch * (maxInFlight + 1), options, {
    async accept(msg) {
      pending.push(msg);
      kick();
      // Back pressure: the pull stops refilling while a full batch waits.
      while (pending.length >= maxBatch && running.size > 0) await Promise.race(running);
    },
    async drain(stopping) {
      if (stopping) {
        // Pulled but not started: given back at once rather than left to wait out the ack wait.
        for (const msg of pending) msg.nak();
        pending = [];
      }
      while (running.size > 0) await Promise.allSettled(running);
    },
  });
}

/**
 * The pull loop under both consumers: sets up the pull, hands each message to `dispatch.accept` (which may
 * wait, holding the pull back), sets the pull up again after an error, and on stop drains what is running.
 */
function consumeLoop(
  ctx: JetStreamContext,
  stream: string,
  durable: string,
  maxMessages: number,
  options: Pick<ConsumeOptions, 'onError'>,
  dispatch: { accept(msg: JsMsg): Promise<void>; drain(stopping: boolean): Promise<void> },
): ConsumeLoop {
  let stopped = false;
  let state: ConsumeLoopState = 'starting';
  let lastError: string | undefined;
  let messages: Awaited<ReturnType<Awaited<ReturnType<typeof ctx.js.consumers.get>>['consume']>> | undefined;

  const done = (async () => {
    while (!stopped) {
      try {
        const consumer = await ctx.js.consumers.get(stream, durable);
        messages = await consumer.consume({ max_messages: maxMessages });
        state = 'consuming';
        lastError = undefined;
        // Told to stop while the pull was being set up: end the iteration after what is already queued.
        if (stopped) void messages.close();
        for await (const msg of messages) {
          if (stopped) {
            // Pulled but not started when the loop was told to stop: give it back at once rather than let
            // it wait out the ack wait (another replica, or this one after a restart, takes it).
            msg.nak();
            continue;
          }
          await dispatch.accept(msg);
        }
        // The pull ended (the consumer was deleted, or the loop is stopping): set it up again.
        state = 'starting';
      } catch (error) {
        if (stopped) break;
        state = 'retrying';
        lastError = error instanceof Error ? error.message : String(error);
        options.onError?.(error, undefined as unknown as JsMsg);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    await dispatch.drain(true);
  })().finally(() => {
    state = 'stopped';
    runningLoops.delete(loop);
  });

  const loop: ConsumeLoop = {
    done,
    stream,
    durable,
    state: () => state,
    lastError: () => lastError,
    async stop() {
      stopped = true;
      runningLoops.delete(loop);
      await messages?.close();
      await done;
    },
  };
  runningLoops.set(loop, ctx);
  return loop;
}

/** Redelivery delay for the n-th delivery: 0.5 s doubling up to 30 s. */
export function backoff(deliveryCount: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, deliveryCount - 1));
}
