import { Controller, Get, Header } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { consumeLoops } from './jetstream.js';

/** How long a consumer-info answer is reused by one scrape (both lag gauges read the same answers). */
const LAG_CACHE_MS = 1000;
/** A scrape does not wait longer than this for NATS; a consumer that did not answer has no lag sample. */
const LAG_TIMEOUT_MS = 1500;

export type Outcome = 'ok' | 'error';

/**
 * The service metrics (Prometheus, `GET /metrics`), one registry per process. The names are what
 * dashboards and alerts query: add metrics, do not rename them.
 *
 * Hooks are one line where the thing happens, e.g.
 * `metrics.eventsProjected.inc({ type })` or `await metrics.time(metrics.nodeDuration, { node }, () => work())`.
 */
export class PlatformMetrics {
  readonly registry = new Registry();

  /** Orchestrator: a build from its first start to its end (across resumes), by template and outcome. */
  readonly buildDuration = new Histogram<'template' | 'outcome'>({
    name: 'vibe_build_duration_seconds',
    help: 'Wall time of a build from its first start to its end, across resumes',
    labelNames: ['template', 'outcome'],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });

  /** Orchestrator: one run of one graph node (an attempt; a retried node is observed once per attempt). */
  readonly nodeDuration = new Histogram<'node' | 'outcome'>({
    name: 'vibe_build_node_duration_seconds',
    help: 'Duration of one attempt of one build graph node',
    labelNames: ['node', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  /** Realtime bridge: events written to `build_events` (a redelivered event is counted again). */
  readonly eventsProjected = new Counter<'type'>({
    name: 'vibe_events_projected_total',
    help: 'Build events projected into build_events, by event type',
    labelNames: ['type'],
    registers: [this.registry],
  });

  /** Provisioner: every MCP tool call, by tool, server mode (read_only / read_write) and outcome. */
  readonly mcpCallDuration = new Histogram<'tool' | 'mode' | 'outcome'>({
    name: 'vibe_mcp_call_duration_seconds',
    help: 'Latency of MCP tool calls made by the provisioner',
    labelNames: ['tool', 'mode', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  /** Provisioner: failed MCP tool calls, by tool, mode and whether the failure may pass (transient). */
  readonly mcpCallErrors = new Counter<'tool' | 'mode' | 'kind'>({
    name: 'vibe_mcp_call_errors_total',
    help: 'MCP tool calls that failed, by tool, mode and kind (transient or permanent)',
    labelNames: ['tool', 'mode', 'kind'],
    registers: [this.registry],
  });

  /** Every consuming service: messages of its durable consumer not yet delivered (what KEDA scales on). */
  readonly consumerPending: Gauge<'stream' | 'consumer'>;
  /** Every consuming service: messages delivered to its consumer and not yet acknowledged. */
  readonly consumerAckPending: Gauge<'stream' | 'consumer'>;

  private lag: { at: number; answers: Promise<ConsumerLag[]> } | undefined;
  private defaultMetrics = false;

  constructor() {
    const refresh = async (gauge: Gauge<'stream' | 'consumer'>, value: (lag: ConsumerLag) => number) => {
      const answers = await this.consumerLag();
      gauge.reset();
      for (const lag of answers) gauge.set({ stream: lag.stream, consumer: lag.consumer }, value(lag));
    };
    this.consumerPending = new Gauge<'stream' | 'consumer'>({
      name: 'vibe_jetstream_consumer_pending_messages',
      help: 'Messages of the JetStream consumer not yet delivered (num_pending): the consumer lag',
      labelNames: ['stream', 'consumer'],
      registers: [this.registry],
      collect: () => refresh(this.consumerPending, (lag) => lag.pending),
    });
    this.consumerAckPending = new Gauge<'stream' | 'consumer'>({
      name: 'vibe_jetstream_consumer_ack_pending_messages',
      help: 'Messages delivered by the JetStream consumer and not yet acknowledged (num_ack_pending)',
      labelNames: ['stream', 'consumer'],
      registers: [this.registry],
      collect: () => refresh(this.consumerAckPending, (lag) => lag.ackPending),
    });
  }

  /** Node.js process metrics (event loop lag, heap, GC, CPU), collected from the first call on. */
  enableDefaultMetrics(): void {
    if (this.defaultMetrics) return;
    this.defaultMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }

  /** Runs `work` and observes its duration with `outcome` ok or error; the error is thrown on. */
  async time<L extends string, T>(
    histogram: Histogram<L | 'outcome'>,
    labels: Partial<Record<L, string>>,
    work: () => Promise<T>,
  ): Promise<T> {
    const end = histogram.startTimer(labels as Partial<Record<L | 'outcome', string>>);
    try {
      const result = await work();
      end({ outcome: 'ok' } as Partial<Record<L | 'outcome', string>>);
      return result;
    } catch (error) {
      end({ outcome: 'error' } as Partial<Record<L | 'outcome', string>>);
      throw error;
    }
  }

  /** One MCP call: its latency, and an error count when it failed. */
  mcpCall(call: { tool: string; mode: string; ok: boolean; transient?: boolean }, seconds: number): void {
    const outcome: Outcome = call.ok ? 'ok' : 'error';
    this.mcpCallDuration.observe({ tool: call.tool, mode: call.mode, outcome }, seconds);
    if (!call.ok) {
      this.mcpCallErrors.inc({ tool: call.tool, mode: call.mode, kind: call.transient ? 'transient' : 'permanent' });
    }
  }

  /** The lag of every consumer this process consumes from, asked of NATS at most once per LAG_CACHE_MS. */
  consumerLag(): Promise<ConsumerLag[]> {
    if (this.lag && Date.now() - this.lag.at < LAG_CACHE_MS) return this.lag.answers;
    const answers = Promise.all(
      consumeLoops().map(async ({ ctx, loop }) => {
        try {
          const info = await withTimeout(ctx.jsm.consumers.info(loop.stream, loop.durable), LAG_TIMEOUT_MS);
          return [
            {
              stream: loop.stream,
              consumer: loop.durable,
              pending: info.num_pending,
              ackPending: info.num_ack_pending,
            },
          ];
        } catch {
          // NATS unavailable: no sample rather than a stale one (readiness says why).
          return [];
        }
      }),
    ).then((lists) => lists.flat());
    this.lag = { at: Date.now(), answers };
    return answers;
  }
}

export interface ConsumerLag {
  stream: string;
  consumer: string;
  pending: number;
  ackPending: number;
}

/** The process's metrics: services record into it with one line where the measured thing happens. */
export const metrics = new PlatformMetrics();

/** `GET /metrics` in the Prometheus text format. */
@Controller('metrics')
export class MetricsController {
  constructor() {
    metrics.enableDefaultMetrics();
  }

  @Get()
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  scrape(): Promise<string> {
    return metrics.registry.metrics();
  }
}

/** Rejects when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
