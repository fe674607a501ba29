import { type IncomingMessage, type Server } from 'node:http';
import { type Duplex } from 'node:stream';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { redactText } from '@vibe/platform';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { BRIDGE_CONFIG, type BridgeConfig } from '../config.js';
import { ChannelAccess } from './channel-access.js';
import { decodeFrame, encodeFrame, ProtocolError, VSNS, type PhoenixMessage, type Vsn } from './phoenix.js';
import { PresenceReader } from './presence.js';
import {
  ARCHITECT_PRESENCE_KEY,
  type EventBroadcast,
  type PresenceUpdate,
  type RealtimeSink,
} from './realtime-sink.js';

/** The path supabase-js connects to: `<url>/realtime/v1` plus Phoenix's `/websocket`. WIRE CONTRACT. */
export const REALTIME_PATH = '/realtime/v1/websocket';

const TOPIC = /^realtime:build:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
/** Longest a timer may wait (setTimeout's limit); a later token expiry is checked again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Connection {
  readonly ws: WebSocket;
  readonly vsn: Vsn;
  readonly channels: Map<string, Subscription>;
  lastSeen: number;
}

interface Subscription {
  readonly connection: Connection;
  readonly topic: string;
  readonly sessionId: string;
  readonly joinRef: string | null;
  readonly presence: boolean;
  /** Set once the join reply and presence state were sent: from then on it receives broadcasts. */
  ready: boolean;
  /** The owner whose JWT authorized the join; null when a share token did. */
  owner: string | null;
  expiry?: NodeJS.Timeout;
}

/**
 * The bridge's own Realtime endpoint (DESIGN.md §3, local default): what `@supabase/supabase-js` v2 joins
 * unchanged at `<bridge>/realtime/v1/websocket`, serializers 1.0.0 and 2.0.0. Channels are `build:{id}`
 * only, each private whatever the client says: a join needs the owner's JWT (`access_token`, which
 * supabase-js sends) or the session's share token (`share_token` in the join payload). Clients only
 * listen: their broadcasts and presence tracks are refused. One bridge serves its own clients; more
 * replicas need Supabase Realtime.
 */
@Injectable()
export class LocalRealtime implements RealtimeSink, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Realtime');
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly connections = new Set<Connection>();
  /** The subscriptions of each session with any. */
  private readonly sessions = new Map<string, Set<Subscription>>();
  /** The presence last sent for each session with subscriptions. */
  private readonly presenceSent = new Map<string, PresenceUpdate>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(BRIDGE_CONFIG) private readonly config: BridgeConfig,
    private readonly access: ChannelAccess,
    private readonly presenceReader: PresenceReader,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(request, socket, head),
    );
    const idle = this.config.REALTIME_IDLE_TIMEOUT_MS;
    this.sweeper = setInterval(() => this.closeIdle(idle), Math.min(10_000, idle / 2));
    this.sweeper.unref();
    this.logger.log(`serving Realtime (Phoenix serializers ${VSNS.join(', ')}) at ${REALTIME_PATH}`);
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.sweeper);
    for (const connection of this.connections) connection.ws.close(1001, 'server shutting down');
    this.wss.close();
  }

  /** How many clients are connected and subscribed (for tests and the log). */
  stats(): { connections: number; subscriptions: number } {
    let subscriptions = 0;
    for (const subs of this.sessions.values()) subscriptions += subs.size;
    return { connections: this.connections.size, subscriptions };
  }

  /** A client has joined the session's channel (ready or not yet: a join in progress gets what follows). */
  listens(sessionId: string): boolean {
    return (this.sessions.get(sessionId)?.size ?? 0) > 0;
  }

  event({ sessionId, payload }: EventBroadcast): void {
    this.fanOut(sessionId, () => true, {
      joinRef: null,
      ref: null,
      topic: `realtime:build:${sessionId}`,
      event: 'broadcast',
      payload: { type: 'broadcast', event: payload.type, payload },
    });
  }

  presence(update: PresenceUpdate): void {
    if (!this.sessions.get(update.sessionId)?.size) return;
    const previous = this.presenceSent.get(update.sessionId);
    if (previous && update.revision <= previous.revision) return;
    this.presenceSent.set(update.sessionId, update);
    const diff = presenceDiff(update, previous);
    if (!diff) return;
    this.fanOut(update.sessionId, (sub) => sub.presence, {
      joinRef: null,
      ref: null,
      topic: `realtime:build:${update.sessionId}`,
      event: 'presence_diff',
      payload: diff,
    });
  }

  /** Sends one message to the ready subscriptions of a session, encoding it once per serializer. */
  private fanOut(sessionId: string, wanted: (sub: Subscription) => boolean, message: PhoenixMessage): void {
    const subs = this.sessions.get(sessionId);
    if (!subs) return;
    const frames = new Map<Vsn, string | Buffer>();
    for (const sub of subs) {
      if (!sub.ready || !wanted(sub)) continue;
      const vsn = sub.connection.vsn;
      let frame = frames.get(vsn);
      if (frame === undefined) {
        frame = encodeFrame(vsn, message);
        frames.set(vsn, frame);
      }
      this.sendFrame(sub.connection, frame);
    }
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(request.url ?? '/', 'http://bridge');
    if (url.pathname.replace(/\/+$/, '') !== REALTIME_PATH) return refuseUpgrade(socket, 404, 'Not Found');
    // Phoenix clients that send no vsn speak 1.0.0.
    const vsn = url.searchParams.getAll('vsn').at(-1) ?? '1.0.0';
    if (!isVsn(vsn)) return refuseUpgrade(socket, 400, 'Bad Request');
    this.wss.handleUpgrade(request, socket, head, (ws) => this.connected(ws, vsn));
  }

  private connected(ws: WebSocket, vsn: Vsn): void {
    const connection: Connection = { ws, vsn, channels: new Map(), lastSeen: Date.now() };
    this.connections.add(connection);
    ws.on('message', (data: RawData, isBinary: boolean) => this.received(connection, data, isBinary));
    ws.on('close', () => {
      this.connections.delete(connection);
      for (const sub of [...connection.channels.values()]) this.remove(sub);
    });
    ws.on('error', (error) => this.logger.warn(`a Realtime connection failed: ${redactText(error.message)}`));
  }

  private received(connection: Connection, data: RawData, isBinary: boolean): void {
    connection.lastSeen = Date.now();
    let message: PhoenixMessage;
    try {
      message = decodeFrame(connection.vsn, toBuffer(data), isBinary);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      connection.ws.close(1007, error.message);
      return;
    }
    if (message.topic === 'phoenix' && message.event === 'heartbeat') return this.reply(connection, message, 'ok', {});
    switch (message.event) {
      case 'phx_join':
        this.join(connection, message).catch((error: unknown) => this.joinFailed(connection, message, error));
        return;
      case 'phx_leave':
        this.leave(connection, message);
        return;
      case 'access_token':
        this.accessToken(connection, message);
        return;
      default: {
        const joined = connection.channels.has(message.topic);
        // Build channels are read-only feeds: broadcasts and presence tracks from clients are refused.
        this.reply(connection, message, 'error', { reason: joined ? 'read-only channel' : 'unmatched topic' });
      }
    }
  }

  private async join(connection: Connection, message: PhoenixMessage): Promise<void> {
    const sessionId = TOPIC.exec(message.topic)?.[1]?.toLowerCase();
    if (!sessionId) {
      return this.reply(connection, message, 'error', {
        reason: `unknown topic ${message.topic.replace(/^realtime:/, '')}: channels are build:<sessionId>`,
      });
    }
    const payload = record(message.payload);
    const config = record(payload.config);
    const previous = connection.channels.get(message.topic);
    if (previous) this.remove(previous);
    const sub: Subscription = {
      connection,
      topic: message.topic,
      sessionId,
      joinRef: message.joinRef,
      // realtime-js sends presence.enabled; older clients do not, and get presence.
      presence: record(config.presence).enabled !== false,
      ready: false,
      owner: null,
    };
    connection.channels.set(sub.topic, sub);
    let subs = this.sessions.get(sessionId);
    if (!subs) this.sessions.set(sessionId, (subs = new Set()));
    subs.add(sub);

    const access = await this.access.check(sessionId, {
      accessToken: text(payload.access_token),
      shareToken: text(payload.share_token),
    });
    if (!this.current(sub)) return;
    if (!access.granted) {
      this.remove(sub);
      this.logger.log(`refused a join of build:${sessionId} (${access.presented ? 'credentials' : 'none'} presented)`);
      return this.reply(connection, message, 'error', {
        reason: `Unauthorized: you do not have permissions to read from this Channel topic: build:${sessionId}`,
      });
    }
    const presence = await this.presenceReader.current(sessionId);
    if (!this.current(sub)) return;
    const known = this.presenceSent.get(sessionId);
    if (!known || presence.revision > known.revision) this.presenceSent.set(sessionId, presence);

    if (access.granted === 'owner') {
      sub.owner = access.claims.sub;
      this.expireAt(sub, access.claims.exp);
    }
    this.reply(connection, message, 'ok', { postgres_changes: [] });
    if (sub.presence) {
      // An empty state, then the architect as a join: a client that rejoins replaces what it had (see presenceDiff).
      const base = { joinRef: sub.joinRef, ref: null, topic: sub.topic };
      this.send(connection, { ...base, event: 'presence_state', payload: {} });
      const diff = presenceDiff(this.presenceSent.get(sessionId)!, undefined);
      if (diff) this.send(connection, { ...base, event: 'presence_diff', payload: diff });
    }
    sub.ready = true;
  }

  private joinFailed(connection: Connection, message: PhoenixMessage, error: unknown): void {
    this.logger.error(`join of ${message.topic} failed: ${redactText(String(error))}`);
    const sub = connection.channels.get(message.topic);
    if (sub && sub.joinRef === message.joinRef) this.remove(sub);
    this.reply(connection, message, 'error', { reason: 'the join failed; retry later' });
  }

  private leave(connection: Connection, message: PhoenixMessage): void {
    const sub = connection.channels.get(message.topic);
    if (sub) this.remove(sub);
    this.reply(connection, message, 'ok', {});
  }

  /** A refreshed token (supabase-js sends one when it changes): an owner's channel needs it to stay theirs. */
  private accessToken(connection: Connection, message: PhoenixMessage): void {
    const sub = connection.channels.get(message.topic);
    if (!sub) return this.reply(connection, message, 'error', { reason: 'unmatched topic' });
    if (sub.owner !== null) {
      const token = text(record(message.payload).access_token);
      const claims = token ? this.access.ownerClaims(token, sub.owner) : undefined;
      if (!claims) return this.closeChannel(sub, 'the new access token was refused');
      this.expireAt(sub, claims.exp);
    }
    this.reply(connection, message, 'ok', {});
  }

  /** Closes an owner's channel when their token expires (Supabase Realtime does the same). */
  private expireAt(sub: Subscription, exp: number): void {
    clearTimeout(sub.expiry);
    const delay = exp * 1000 - Date.now();
    sub.expiry = setTimeout(
      () => (delay > MAX_TIMER_MS ? this.expireAt(sub, exp) : this.closeChannel(sub, 'the access token expired')),
      Math.max(0, Math.min(delay, MAX_TIMER_MS)),
    );
    sub.expiry.unref();
  }

  private closeChannel(sub: Subscription, reason: string): void {
    if (!this.current(sub)) return;
    this.remove(sub);
    const base = { joinRef: sub.joinRef, ref: null, topic: sub.topic };
    const channel = sub.topic.replace(/^realtime:/, '');
    this.send(sub.connection, {
      ...base,
      event: 'system',
      payload: { extension: 'system', status: 'error', message: reason, channel },
    });
    this.send(sub.connection, { ...base, event: 'phx_close', payload: {} });
  }

  private current(sub: Subscription): boolean {
    return sub.connection.channels.get(sub.topic) === sub && sub.connection.ws.readyState === WebSocket.OPEN;
  }

  private remove(sub: Subscription): void {
    clearTimeout(sub.expiry);
    if (sub.connection.channels.get(sub.topic) === sub) sub.connection.channels.delete(sub.topic);
    const subs = this.sessions.get(sub.sessionId);
    subs?.delete(sub);
    if (subs?.size === 0) {
      this.sessions.delete(sub.sessionId);
      this.presenceSent.delete(sub.sessionId);
    }
  }

  private reply(connection: Connection, message: PhoenixMessage, status: 'ok' | 'error', response: object): void {
    this.send(connection, {
      joinRef: message.joinRef,
      ref: message.ref,
      topic: message.topic,
      event: 'phx_reply',
      payload: { status, response },
    });
  }

  private send(connection: Connection, message: PhoenixMessage): void {
    this.sendFrame(connection, encodeFrame(connection.vsn, message));
  }

  /** A client that does not read what it is sent is cut off rather than buffered without end. */
  private sendFrame(connection: Connection, frame: string | Buffer): void {
    const { ws } = connection;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > this.config.REALTIME_MAX_BUFFERED_BYTES) {
      this.logger.warn('disconnected a Realtime client that stopped reading');
      ws.terminate();
      return;
    }
    ws.send(frame);
  }

  private closeIdle(idleMs: number): void {
    const cutoff = Date.now() - idleMs;
    for (const connection of this.connections) {
      if (connection.lastSeen < cutoff) connection.ws.terminate();
    }
  }
}

/**
 * The ref of the architect's one presence meta. It stays the same across updates on purpose: realtime-js
 * (2.109, through @supabase/phoenix) mutates the metas a key already has when a diff joins new ones to it, so a
 * diff that joins a new ref and leaves the old one keeps both. A join with the same ref replaces the meta.
 */
const ARCHITECT_REF = 'architect';

/** A Phoenix presence diff `{ joins, leaves }` from one presence to the next, or undefined for no change. */
export function presenceDiff(
  next: PresenceUpdate,
  previous: PresenceUpdate | undefined,
): { joins: Record<string, { metas: object[] }>; leaves: Record<string, { metas: object[] }> } | undefined {
  const metas = (update: PresenceUpdate) => ({
    [ARCHITECT_PRESENCE_KEY]: { metas: [{ phx_ref: ARCHITECT_REF, ...update.presence }] },
  });
  if (next.presence) return { joins: metas(next), leaves: {} };
  if (previous?.presence) return { joins: {}, leaves: metas(previous) };
  return undefined;
}

function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function isVsn(value: string): value is Vsn {
  return (VSNS as readonly string[]).includes(value);
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
