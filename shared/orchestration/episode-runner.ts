/**
 * Running episodes against storage: find the instances with due work, take an instance's lock (its
 * row, under ETag concurrency), finish any outbox an earlier episode left, plan the episode, append
 * its events, commit the row (the commit point), send the side effects, delete the consumed messages
 * and release the lock. A crash at any point leaves either nothing committed (the next episode
 * redoes the work; rows beyond `HistoryCount` are overwritten) or a committed row with an outbox that
 * the next episode sends again (every side effect is keyed, so twice is harmless).
 *
 * Committed history rows never change within an execution, so they are cached per instance and only
 * the rows added since (by this or another engine) are read.
 */
import { randomUUID } from 'node:crypto';
import type { LogHandler } from '@azure/functions';
import type { EpisodeFaultPoint, OrchestrationRegistry } from './types';
import { EpisodePlan, failedPlan, planEpisode } from './episode';
import type { WireEvent } from './history';
import { ACTIVE_STATUSES, ConcurrencyError, HistoryStore, InstanceRecord } from './history-store';
import { sendOutbox } from './outbox';
import { PayloadTooLargeError } from './payload';
import type { ActivityQueue } from './activity-queue';
import { WorkQueue } from './work-queue';

/** The engine parts an episode needs. */
export interface EpisodeContext {
  store: HistoryStore;
  queue: WorkQueue;
  activities: ActivityQueue;
  registry: OrchestrationRegistry;
  owner: string;
  /** Lock owners starting with this are earlier processes of this host (taken over at once). */
  hostPrefix?: string;
  leaseMs: number;
  maxConcurrent: number;
  clock: () => number;
  log: (line: string) => void;
  logHandler: (functionName: string) => LogHandler;
  isHalted: () => boolean;
  /** New work exists (wake the background loop). */
  wake: () => void;
  /** Test hook called at each point where a crash leaves partial work; throwing simulates the crash. */
  fault?: (point: EpisodeFaultPoint, instanceId: string) => void;
}

/** Thrown at the next write once the engine is halted: a crashed process writes nothing more. */
class Halted extends Error {}

/** Runs episodes for one engine. */
export class EpisodeRunner {
  private readonly cache = new Map<string, { executionId: string; events: string[] }>();
  private readonly running = new Set<string>();

  constructor(private readonly ctx: EpisodeContext) {}

  /** Forget the cached history of an instance (it was replaced or purged). */
  forget(instanceId: string): void {
    this.cache.delete(instanceId);
  }

  /** Run an episode for every instance with due work; returns how many did something. */
  async runDue(): Promise<number> {
    if (this.ctx.isHalted()) return 0;
    const ids = new Set([...(await this.ctx.store.listStartable()), ...(await this.ctx.queue.dueInstances(this.ctx.clock()))]);
    const todo = [...ids].filter((id) => !this.running.has(id));
    let done = 0;
    const workers = Array.from({ length: Math.min(this.ctx.maxConcurrent, todo.length) }, async () => {
      for (let id = todo.shift(); id !== undefined; id = todo.shift()) if (await this.episode(id)) done++;
    });
    await Promise.all(workers);
    return done;
  }

  private lockFree(record: InstanceRecord, now: number): boolean {
    const owner = record.lockOwner;
    return !owner || owner === this.ctx.owner || (record.lockUntil ?? 0) <= now || (this.ctx.hostPrefix !== undefined && owner.startsWith(this.ctx.hostPrefix));
  }

  /** One episode of one instance; false when there was nothing to do or another engine holds it. */
  async episode(instanceId: string): Promise<boolean> {
    this.running.add(instanceId);
    try {
      const record = await this.ctx.store.get(instanceId);
      const now = this.ctx.clock();
      if (!record) {
        await this.ctx.queue.deleteMessagesOf(instanceId);
        return false;
      }
      if (!this.lockFree(record, now) || this.ctx.isHalted()) return false;
      const locked = { ...record, lockOwner: this.ctx.owner, lockUntil: now + this.ctx.leaseMs };
      try {
        await this.ctx.store.replace(locked);
      } catch (err) {
        if (err instanceof ConcurrencyError) return false;
        throw err;
      }
      return await this.underLock(locked);
    } catch (err) {
      if (err instanceof Halted) return false;
      if (!(err instanceof ConcurrencyError)) throw err;
      // The lock lapsed mid-episode and another engine took the instance; its episode counts.
      this.ctx.log(`orchestration ${instanceId}: ${err.message}; episode abandoned`);
      return false;
    } finally {
      this.running.delete(instanceId);
    }
  }

  private async pastEvents(record: InstanceRecord): Promise<string[]> {
    let cached = this.cache.get(record.instanceId);
    if (!cached || cached.executionId !== record.executionId || cached.events.length > record.historyCount)
      cached = { executionId: record.executionId, events: [] };
    // One push per event: a long history spread into push() would overflow the call stack.
    for (const event of await this.ctx.store.read(record.instanceId, record.executionId, cached.events.length, record.historyCount)) cached.events.push(event);
    this.cache.set(record.instanceId, cached);
    return cached.events.slice(0, record.historyCount);
  }

  /** Stop here if the engine was halted (checked before every write of an episode). */
  private live(): void {
    if (this.ctx.isHalted()) throw new Halted();
  }

  private outboxContext() {
    return { store: this.ctx.store, queue: this.ctx.queue, activities: this.ctx.activities, now: this.ctx.clock, log: this.ctx.log };
  }

  private async underLock(locked: InstanceRecord): Promise<boolean> {
    const { store, queue } = this.ctx;
    const instanceId = locked.instanceId;
    let record = locked;
    // An earlier episode committed but did not finish sending its side effects.
    if (record.outbox) {
      this.live();
      const texts = await store.read(instanceId, record.outbox.executionId, record.outbox.from, record.outbox.to);
      await sendOutbox(
        this.outboxContext(),
        record,
        record.outbox,
        texts.map((t) => JSON.parse(t) as WireEvent),
      );
      record.outbox = undefined;
      this.live();
      await store.replace(record);
    }
    const messages = await queue.messagesFor(instanceId, this.ctx.clock());
    if (record.runtimeStatus === 'Running' && messages.length === 0) {
      await this.release(record);
      return false;
    }
    let plan = await planEpisode({
      instance: record,
      pastEvents: ACTIVE_STATUSES.includes(record.runtimeStatus) ? await this.pastEvents(record) : [],
      messages,
      now: this.ctx.clock(),
      orchestrator: this.ctx.registry.orchestrators[record.name],
      logHandler: this.ctx.logHandler(record.name),
      newExecutionId: randomUUID,
    });
    this.live();
    await this.keepLock(record, plan);
    try {
      await this.commit(plan);
    } catch (err) {
      if (!(err instanceof PayloadTooLargeError)) throw err;
      plan = failedPlan(plan, record, err.message);
      await this.commit(plan);
    }
    record = plan.instance;
    const { executionId, events } = plan.append;
    if (events.length) {
      this.live();
      await sendOutbox(this.outboxContext(), record, record.outbox!, events);
      this.ctx.fault?.('afterOutbox', instanceId);
    }
    this.live();
    await queue.deleteMessages(instanceId, plan.consumed);
    const finished = !ACTIVE_STATUSES.includes(record.runtimeStatus);
    await this.release(record);
    if (finished || record.executionId !== executionId) this.cache.delete(instanceId);
    if (events.length) this.ctx.wake();
    return events.length > 0 || plan.consumed.length > 0;
  }

  /**
   * Renew the lock before writing if less than half of it is left, so no other engine can take the
   * instance while this one appends rows (a lost renewal aborts the episode before any write).
   */
  private async keepLock(record: InstanceRecord, plan: EpisodePlan): Promise<void> {
    const now = this.ctx.clock();
    if ((record.lockUntil ?? 0) - now > this.ctx.leaseMs / 2) return;
    record.lockUntil = now + this.ctx.leaseMs;
    await this.ctx.store.replace(record);
    plan.instance.etag = record.etag;
    plan.instance.lockUntil = record.lockUntil;
  }

  /** Append the plan's events and commit the instance row with its outbox (the lock is kept). */
  private async commit(plan: EpisodePlan): Promise<void> {
    const { executionId, from, events } = plan.append;
    if (!events.length) return;
    const record = plan.instance;
    this.live();
    const texts = await this.ctx.store.append(record.instanceId, executionId, from, events);
    this.ctx.fault?.('afterAppend', record.instanceId);
    record.outbox = { executionId, from, to: from + events.length };
    this.live();
    await this.ctx.store.replace(record);
    this.ctx.fault?.('afterCommit', record.instanceId);
    const cached = this.cache.get(record.instanceId);
    if (cached?.executionId === executionId && cached.events.length === from) for (const text of texts) cached.events.push(text);
    if (from === 0 && record.runtimeStatus === 'Running') this.ctx.log(`orchestration ${record.name} ${record.instanceId}: started`);
  }

  private async release(record: InstanceRecord): Promise<void> {
    this.live();
    await this.ctx.store.replace({ ...record, outbox: undefined, lockOwner: undefined, lockUntil: undefined });
  }
}
