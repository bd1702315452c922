/**
 * The local orchestration engine: the Durable extension's role for orchestrators and activities
 * written for `durable-functions` (see index.ts for the mapping and its limits). It keeps state in
 * Table Storage (history-store.ts, work-queue.ts, activity-queue.ts), runs episodes
 * (episode-runner.ts, episode.ts, planner.ts) under a per-instance lock, sends their side effects
 * (outbox.ts), and runs activities under leases (activity-runner.ts). This file is the client side:
 * starting, signalling, terminating, purging and querying instances, and the work loop.
 *
 * Drive it step by step (`tick`, `runPending`) or as a background loop (`start`/`stop`). Several
 * engines may share the tables (each instance's episodes are serialized by a lock on its row); a
 * crashed engine's locks and leases lapse after `leaseMs`, or at once for a new engine with the same
 * `hostId` (one process per host id at a time: a restarted `npm start` resumes immediately).
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism, hostname } from 'node:os';
import type { LogHandler } from '@azure/functions';
import { EpisodeRunner } from './episode-runner';
import { WireEvent } from './history';
import { ACTIVE_STATUSES, ConcurrencyError, HistoryStore, InstanceRecord } from './history-store';
import { toJsonText } from './payload';
import { ActivityQueue } from './activity-queue';
import { ActivityPool } from './activity-runner';
import { OrchestrationStateError, toStatus } from './status';
import { connectionStringTables, createTableIfMissing } from '../storage/lake';
import { LOCAL_HOST_ENGINE_TABLES } from '../storage/lake-layout';
import { EngineOptions, InstanceFilter, OrchestrationRegistry, OrchestrationStatus, RuntimeStatus, StartOptions, StatusOptions, TickResult } from './types';
import { freshMessageId, WorkQueue } from './work-queue';

const TABLE_PREFIX = /^[A-Za-z][A-Za-z0-9]{0,52}$/;
const HOST_ID = /^[A-Za-z0-9_.:-]{1,100}$/;

/** The engine. */
export class OrchestrationEngine {
  /** Lock and lease owner name of this engine object. */
  readonly owner: string;
  readonly tableNames: { instances: string; history: string; work: string };
  private readonly store: HistoryStore;
  private readonly queue: WorkQueue;
  private readonly clock: () => number;
  private readonly leaseMs: number;
  private readonly hostPrefix?: string;
  private readonly log: (line: string) => void;
  private readonly activities: ActivityQueue;
  private readonly episodes: EpisodeRunner;
  private readonly pool: ActivityPool;
  private ready?: Promise<void>;
  private loop?: Promise<void>;
  private stopping = false;
  private halted = false;
  private wakeUp?: () => void;
  /** A wake-up came while the loop was busy: its next sleep returns at once. */
  private woken = false;

  constructor(
    readonly registry: OrchestrationRegistry,
    readonly options: EngineOptions,
  ) {
    const prefix = options.tablePrefix ?? LOCAL_HOST_ENGINE_TABLES;
    if (!TABLE_PREFIX.test(prefix))
      throw new Error(`orchestration engine: tablePrefix must be 1–53 letters or digits starting with a letter (a Table Storage name part); got "${prefix}"`);
    if (options.hostId !== undefined && !HOST_ID.test(options.hostId))
      throw new Error(`orchestration engine: hostId must be 1–100 of letters, digits and _ . : -; got "${options.hostId}"`);
    this.tableNames = { instances: `${prefix}Instances`, history: `${prefix}History`, work: `${prefix}Work` };
    const client = options.tableClient ?? (options.connectionString ? connectionStringTables(options.connectionString) : undefined);
    if (!client) throw new Error('orchestration engine: give a storage connectionString or a tableClient factory');
    this.store = new HistoryStore(client(this.tableNames.instances), client(this.tableNames.history), options.payloads);
    const work = client(this.tableNames.work);
    this.queue = new WorkQueue(work, options.payloads, (id) => this.store.key(id));
    this.activities = new ActivityQueue(work, options.payloads, (id) => this.store.key(id));
    this.clock = options.clock ?? Date.now;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.hostPrefix = options.hostId ? `${options.hostId}/` : undefined;
    this.owner = `${options.hostId ?? hostname()}/${process.pid}-${randomUUID().slice(0, 8)}`;
    this.log = options.log ?? (() => {});
    const common = {
      queue: this.queue,
      activities: this.activities,
      registry,
      owner: this.owner,
      hostPrefix: this.hostPrefix,
      leaseMs: this.leaseMs,
      clock: this.clock,
      log: this.log,
    };
    const hooks = { logHandler: (name: string) => this.logHandler(name), isHalted: () => this.halted, wake: () => this.wake() };
    this.pool = new ActivityPool({ ...common, ...hooks, maxConcurrent: options.maxConcurrentActivities ?? 10 * availableParallelism() });
    this.episodes = new EpisodeRunner({
      ...common,
      ...hooks,
      store: this.store,
      maxConcurrent: options.maxConcurrentOrchestrations ?? 8,
      fault: options.fault,
    });
  }

  /** Create the tables if missing (done on first use). */
  ensureTables(): Promise<void> {
    this.ready ??= Promise.all([this.store.instances, this.store.history, this.queue.work].map(createTableIfMissing)).then(
      () => undefined,
      (err) => {
        this.ready = undefined;
        throw err;
      },
    );
    return this.ready;
  }

  /**
   * Start an orchestration (or find the running one with the same id).
   *
   * @param name registered orchestrator name
   * @param options instance id, input, what to do when the id is already running
   * @returns the instance id, whether a new instance was created, and its status
   */
  async startNew(name: string, options: StartOptions = {}): Promise<{ instanceId: string; created: boolean; runtimeStatus: RuntimeStatus }> {
    if (!Object.hasOwn(this.registry.orchestrators, name))
      throw new Error(
        `orchestration engine: no orchestrator function named '${name}' is registered (registered: ${Object.keys(this.registry.orchestrators).join(', ') || 'none'})`,
      );
    const instanceId = options.instanceId ?? randomUUID().replace(/-/g, '');
    if (!instanceId || /[/\\#?\u0000-\u001f\u007f]/.test(instanceId))
      throw new Error(`orchestration engine: instance id ${JSON.stringify(instanceId)} is empty or contains / \\ # ? or a control character`);
    const inputText = toJsonText(options.input, `input of orchestration "${name}"`);
    await this.ensureTables();
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.store.get(instanceId);
      if (existing && ACTIVE_STATUSES.includes(existing.runtimeStatus)) {
        if (options.ifRunning === 'throw')
          throw new OrchestrationStateError(`orchestration instance "${instanceId}" already exists and is ${existing.runtimeStatus}`, 409, instanceId);
        return { instanceId, created: false, runtimeStatus: existing.runtimeStatus };
      }
      const now = this.clock();
      const record: InstanceRecord = {
        instanceId,
        name,
        runtimeStatus: 'Pending',
        executionId: randomUUID(),
        createdTime: now,
        lastUpdatedTime: now,
        inputText,
        historyCount: 0,
      };
      if (!existing) {
        if (!(await this.store.create(record))) continue;
      } else {
        // A finished instance is replaced by a new execution (the extension's default for non-running states).
        // Only the old execution's own messages go: an event carries no execution, and one found here was
        // raised by a trigger that saw the new execution another starter created between our read and
        // this line; deleting it would lose that trigger's request.
        await this.queue.deleteMessagesOf(instanceId, existing.executionId);
        await this.store.deleteHistory(instanceId, existing.executionId);
        try {
          await this.store.replace({ ...record, etag: existing.etag });
        } catch (err) {
          if (err instanceof ConcurrencyError) continue;
          throw err;
        }
        this.episodes.forget(instanceId);
      }
      this.log(`orchestration ${name} ${instanceId}: scheduled`);
      this.wake();
      return { instanceId, created: true, runtimeStatus: 'Pending' };
    }
    throw new Error(`orchestration engine: could not start "${instanceId}": its row kept changing`);
  }

  private async active(instanceId: string, operation: string): Promise<InstanceRecord> {
    await this.ensureTables();
    const record = await this.store.get(instanceId);
    if (!record) throw new OrchestrationStateError(`cannot ${operation}: no orchestration instance "${instanceId}"`, 404, instanceId);
    if (!ACTIVE_STATUSES.includes(record.runtimeStatus))
      throw new OrchestrationStateError(`cannot ${operation}: orchestration instance "${instanceId}" is ${record.runtimeStatus}`, 410, instanceId);
    return record;
  }

  /** Send an external event to a Pending or Running instance (404 / 410 errors otherwise). */
  async raiseEvent(instanceId: string, eventName: string, data?: unknown): Promise<void> {
    await this.active(instanceId, `raise event "${eventName}"`);
    const now = this.clock();
    await this.queue.send({
      instanceId,
      kind: 'event',
      id: freshMessageId('event', now),
      name: eventName,
      dueAt: 0,
      createdAt: now,
      payloadText: toJsonText(data, `data of event "${eventName}"`),
    });
    this.wake();
  }

  /** Ask a Pending or Running instance to terminate (it does at its next episode). */
  async terminate(instanceId: string, reason: string): Promise<void> {
    await this.active(instanceId, 'terminate');
    const now = this.clock();
    await this.queue.send({
      instanceId,
      kind: 'terminate',
      id: freshMessageId('terminate', now),
      dueAt: 0,
      createdAt: now,
      payloadText: JSON.stringify(reason),
    });
    this.wake();
  }

  /** Delete a finished instance's state, history and payloads; running ones are refused (409). */
  async purge(instanceId: string): Promise<{ instancesDeleted: number }> {
    await this.ensureTables();
    const record = await this.store.get(instanceId);
    if (!record) return { instancesDeleted: 0 };
    if (ACTIVE_STATUSES.includes(record.runtimeStatus))
      throw new OrchestrationStateError(
        `cannot purge orchestration instance "${instanceId}": it is ${record.runtimeStatus}; terminate it first`,
        409,
        instanceId,
      );
    await this.store.deleteHistory(instanceId);
    await this.queue.deleteMessagesOf(instanceId);
    await this.activities.deleteActivitiesOf(instanceId);
    if (this.options.payloads)
      for await (const info of this.options.payloads.list(`${this.store.key(instanceId)}/`)) await this.options.payloads.delete(info.path);
    await this.store.delete(instanceId);
    this.episodes.forget(instanceId);
    return { instancesDeleted: 1 };
  }

  /** The instance's status, or undefined when there is no such instance. */
  async getStatus(instanceId: string, options: StatusOptions = {}): Promise<OrchestrationStatus | undefined> {
    await this.ensureTables();
    const record = await this.store.get(instanceId);
    if (!record) return undefined;
    return toStatus(record, options, options.showHistory ? await this.events(record) : undefined);
  }

  /** The current execution's history as the worker receives it (for inspection and tests). */
  async getHistory(instanceId: string): Promise<WireEvent[]> {
    await this.ensureTables();
    const record = await this.store.get(instanceId);
    return record ? this.events(record) : [];
  }

  private async events(record: InstanceRecord): Promise<WireEvent[]> {
    return (await this.store.read(record.instanceId, record.executionId, 0, record.historyCount)).map((t) => JSON.parse(t) as WireEvent);
  }

  /** Instances matching the filter (no history). */
  async listInstances(filter: InstanceFilter = {}): Promise<OrchestrationStatus[]> {
    await this.ensureTables();
    const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
    const parts = [`RowKey eq ''`];
    if (filter.name) parts.push(`Name eq ${q(filter.name)}`);
    if (filter.runtimeStatus?.length) parts.push(`(${filter.runtimeStatus.map((s) => `RuntimeStatus eq ${q(s)}`).join(' or ')})`);
    if (filter.createdTimeFrom) parts.push(`CreatedTime ge ${filter.createdTimeFrom.getTime()}L`);
    if (filter.createdTimeTo) parts.push(`CreatedTime le ${filter.createdTimeTo.getTime()}L`);
    return (await this.store.list(parts.join(' and '))).map((r) => toStatus(r));
  }

  /** Wait until the instance finishes (needs a running loop or another engine) or `timeoutMs` passes; returns the last status seen. */
  async waitForCompletion(instanceId: string, timeoutMs: number): Promise<OrchestrationStatus | undefined> {
    const deadline = this.clock() + timeoutMs;
    for (;;) {
      const status = await this.getStatus(instanceId);
      if (!status || !ACTIVE_STATUSES.includes(status.runtimeStatus) || this.clock() >= deadline) return status;
      await new Promise((r) => setTimeout(r, Math.min(this.options.pollMs ?? 200, 100)));
    }
  }

  /** One round: every due episode, then the activities there are slots for, awaited. */
  async tick(): Promise<TickResult> {
    await this.ensureTables();
    const episodes = await this.episodes.runDue();
    const activities = await this.pool.fill();
    await this.pool.settle();
    return { episodes, activities };
  }

  /** Tick until nothing is due now (future timers are left); returns the totals. */
  async runPending(maxTicks = 10_000): Promise<TickResult> {
    const total = { episodes: 0, activities: 0 };
    for (let i = 0; i < maxTicks; i++) {
      const r = await this.tick();
      total.episodes += r.episodes;
      total.activities += r.activities;
      if (r.episodes === 0 && r.activities === 0) break;
    }
    return total;
  }

  /** Run in the background until `stop`. */
  start(): void {
    if (this.loop || this.halted) return;
    this.stopping = false;
    this.loop = (async () => {
      while (!this.stopping) {
        try {
          await this.ensureTables();
          const worked = (await this.episodes.runDue()) + (await this.pool.fill());
          if (!worked) await this.sleep(this.options.pollMs ?? 200);
        } catch (err) {
          this.log(`orchestration engine: ${(err as Error).message}`);
          await this.sleep(5 * (this.options.pollMs ?? 200));
        }
      }
    })();
  }

  /** Stop the background loop; running activities finish and record their results. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    this.loop = undefined;
    await this.pool.settle();
  }

  /** Stop at once as a crash would: nothing more is recorded, locks and leases are left to lapse. */
  halt(): void {
    this.halted = true;
    this.stopping = true;
    this.wake();
  }

  private wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private logHandler(name: string): LogHandler {
    return (level, ...args) => this.log(`[${name}] ${level}: ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
  }
}
