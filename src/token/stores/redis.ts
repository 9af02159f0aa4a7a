import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { GrantLease, StoredGrant, TokenStore, WriteResult } from '../store.js';
import { CorruptGrantError, parseGrant, toGrant } from './grant-json.js';

/**
 * Compare-and-set of a grant: writes ARGV[1] unless the stored grant's generation is already
 * ARGV[2] or higher (then returns it, so the caller can adopt it), and tells the other replicas.
 * An undecodable stored value is overwritten: the writer holds a newer chain than garbage.
 */
const CAS = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and (tonumber(decoded['generation']) or 0) >= tonumber(ARGV[2]) then
    return current
  end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return false`;

/** Extends the lock only while this process still holds it. */
const RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";

/** Deletes the lock only if this process still holds it, and wakes the replicas waiting for it. */
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) redis.call('PUBLISH', ARGV[2], ARGV[3]) return 1 else return 0 end";

export interface RedisStoreOptions {
  readonly url: string;
  readonly keyPrefix: string;
  /** ACL user and password (kept out of the URL so the config can take them from ${file:}). */
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** A CA bundle for rediss:// (TLS is always verified). */
  readonly caFile?: string | undefined;
  /** Sentinel: the master's name and the sentinels to ask for it. */
  readonly sentinel?: { readonly name: string; readonly nodes: readonly { host: string; port: number }[] } | undefined;
  /** Cluster: the seed nodes. */
  readonly cluster?: readonly { host: string; port: number }[] | undefined;
  /** How long a lock lives without renewal: timeouts.token × attempts + margin (validated in config). */
  readonly lockTtlMs: number;
  /** Bound on one Redis command, so a hung server is a failure, not a hang. */
  readonly commandTimeoutMs?: number | undefined;
}

type Client = Redis | Cluster;

/** ioredis options from the config: URL for the address, the rest passed through. */
function clientFor(options: RedisStoreOptions): Client {
  const url = new URL(options.url);
  const tls = url.protocol === 'rediss:' ? { rejectUnauthorized: true, ...(options.caFile ? { ca: readFileSync(options.caFile, 'utf8') } : {}) } : undefined;
  const common: RedisOptions = {
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    commandTimeout: options.commandTimeoutMs ?? 5_000,
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(tls ? { tls } : {}),
  };
  if (options.cluster) return new Cluster(options.cluster.map((node) => ({ ...node })), { redisOptions: common });
  if (options.sentinel) {
    return new Redis({ ...common, sentinels: options.sentinel.nodes.map((node) => ({ ...node })), name: options.sentinel.name, ...(tls ? { sentinelTLS: tls, enableTLSForSentinelMode: true } : {}) });
  }
  return new Redis(options.url, common);
}

/** A lock held by this process, renewed every third of its TTL until released. */
class RedisLease implements GrantLease {
  lost = false;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly redis: Client,
    private readonly lock: string,
    private readonly owner: string,
    private readonly ttlMs: number,
    private readonly onRelease: () => Promise<void>,
  ) {
    this.#timer = setInterval(() => void this.#renew(), Math.max(100, Math.floor(ttlMs / 3)));
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    try {
      if ((await this.redis.eval(RENEW, 1, this.lock, this.owner, String(this.ttlMs))) !== 1) this.lost = true;
    } catch {
      // A failed renewal is retried at the next tick; the TTL covers two more.
    }
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.onRelease();
  }
}

/**
 * Grants in Redis, shared by every replica of an app (keys under `keyPrefix`). Writes are a
 * compare-and-set on the chain's generation; a per-grant lock with a TTL derived from the token
 * timeout (renewed while held) makes one replica at a time spend a refresh token; waiters wake on
 * pub/sub messages, not by polling.
 */
export class RedisStore implements TokenStore {
  readonly #redis: Client;
  readonly #options: RedisStoreOptions;
  readonly #channel: string;
  /** Names this process in lock values (`<hostname>/<pid>/<uuid>`), so an operator can tell who holds a lock. */
  readonly #id = `${hostname()}/${process.pid}/${randomUUID()}`;
  #subscriber: Client | undefined;
  readonly #changeListeners = new Set<(key: string, grant: StoredGrant | undefined) => void>();
  readonly #wakers = new Map<string, Set<() => void>>();
  readonly #reconnectListeners = new Set<() => void>();
  #connectedOnce = false;

  constructor(options: RedisStoreOptions) {
    this.#options = options;
    this.#redis = clientFor(options);
    this.#channel = `${options.keyPrefix}changes`;
    // Connection errors surface on the commands that fail; the client reconnects by itself.
    this.#redis.on('error', () => undefined);
    this.#redis.on('ready', () => {
      if (this.#connectedOnce) for (const listener of this.#reconnectListeners) listener();
      this.#connectedOnce = true;
    });
  }

  #key(key: string): string {
    return `${this.#options.keyPrefix}${key.replaceAll('\u0000', '|')}`;
  }

  async get(key: string): Promise<StoredGrant | undefined> {
    const value = await this.#redis.get(this.#key(key));
    return value === null ? undefined : parseGrant(value, `redis key ${this.#key(key)}`);
  }

  async set(key: string, grant: StoredGrant): Promise<WriteResult> {
    // The grant rides along: a replica that learns of it keeps the chain even if Redis restarts empty.
    const message = JSON.stringify({ key, kind: 'written', from: this.#id, grant });
    const current = (await this.#redis.eval(CAS, 1, this.#key(key), JSON.stringify(grant), String(grant.generation), this.#channel, message)) as string | null;
    if (current === null) return { written: true };
    try {
      return { written: false, current: parseGrant(current, `redis key ${this.#key(key)}`) };
    } catch (error) {
      if (error instanceof CorruptGrantError) return { written: false, current: undefined };
      throw error;
    }
  }

  async lock(key: string, waitMs: number): Promise<GrantLease | undefined> {
    const lock = `${this.#key(key)}:lock`;
    const owner = `${this.#id}:${randomUUID()}`;
    const ttl = this.#options.lockTtlMs;
    const deadline = Date.now() + waitMs;
    await this.#subscribe();
    for (;;) {
      // Listen before trying, so a release between the try and the wait is not missed.
      const woken = this.#nextWake(key);
      if ((await this.#redis.set(lock, owner, 'PX', ttl, 'NX')) === 'OK') {
        woken.cancel();
        const released = JSON.stringify({ key, kind: 'released', from: this.#id });
        return new RedisLease(this.#redis, lock, owner, ttl, async () => {
          await this.#redis.eval(RELEASE, 1, lock, owner, this.#channel, released).catch(() => undefined);
        });
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        woken.cancel();
        return undefined;
      }
      // Wake on the holder's release or write, or when its lock expires (a holder that died).
      const expiresIn = await this.#redis.pttl(lock);
      await woken.within(Math.min(left, expiresIn > 0 ? expiresIn + 5 : 25));
    }
  }

  onChange(listener: (key: string, grant: StoredGrant | undefined) => void): () => void {
    this.#changeListeners.add(listener);
    void this.#subscribe().catch(() => undefined);
    return () => this.#changeListeners.delete(listener);
  }

  onReconnect(listener: () => void): () => void {
    this.#reconnectListeners.add(listener);
    return () => this.#reconnectListeners.delete(listener);
  }

  #nextWake(key: string): { within(ms: number): Promise<void>; cancel(): void } {
    let wake: () => void = () => undefined;
    let timer: NodeJS.Timeout | undefined;
    const woken = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const set = this.#wakers.get(key) ?? new Set();
    this.#wakers.set(key, set);
    set.add(wake);
    const cancel = () => {
      clearTimeout(timer);
      set.delete(wake);
      if (set.size === 0) this.#wakers.delete(key);
      wake();
    };
    return {
      within: async (ms) => {
        timer = setTimeout(cancel, ms);
        await woken;
        cancel();
      },
      cancel,
    };
  }

  async #subscribe(): Promise<void> {
    if (this.#subscriber) return;
    const subscriber = (this.#redis as Redis).duplicate() as Client;
    this.#subscriber = subscriber;
    subscriber.on('error', () => undefined);
    subscriber.on('message', (_channel: string, text: string) => {
      let message: { key?: unknown; from?: unknown; grant?: unknown };
      try {
        message = JSON.parse(text) as typeof message;
      } catch {
        return;
      }
      if (typeof message.key !== 'string') return;
      for (const wake of this.#wakers.get(message.key) ?? []) wake();
      if (message.from === this.#id) return;
      let grant: StoredGrant | undefined;
      try {
        grant = message.grant === undefined ? undefined : toGrant(message.grant, 'a change message');
      } catch {
        grant = undefined;
      }
      for (const listener of this.#changeListeners) listener(message.key, grant);
    });
    await subscriber.subscribe(this.#channel);
  }

  async close(): Promise<void> {
    for (const set of this.#wakers.values()) for (const wake of set) wake();
    const clients = [this.#redis, ...(this.#subscriber ? [this.#subscriber] : [])];
    await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
  }
}
