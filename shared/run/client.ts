/**
 * Starting and managing pipeline runs, one interface over two back ends:
 * - `DurableRunClient` over the `durable-functions` client (`df.getClient(context)`) in Azure;
 * - `EngineRunClient` over Sluice's local `OrchestrationEngine` (local host, CLI, tests).
 *
 * Both keep one instance per pipeline (`refresh-<pipeline>`), and a start while that instance runs
 * makes it catch up instead of starting a second one: the engine queues one more run of the same id
 * (`ifRunning: 'queue'`); in Azure the client raises the `catchUp` event, which the orchestrator
 * checks before it finishes (see orchestrator.ts). Two triggers racing to start a finished instance
 * cannot both start it: host.json's `overridableExistingInstanceStates: NonRunningStates` makes the
 * extension refuse a start while the instance runs, and the refused one raises `catchUp` instead.
 * The gaps in Azure: an event raised in the instant between the status read and the instance
 * completing is dropped by the extension, and a run that fails ends without reading its events; the
 * schedule timer's sweep (sweep.ts) starts a run for bronze versions no run has applied.
 */
import type { DurableClient } from 'durable-functions';
import type { OrchestrationEngine } from '../orchestration/engine';
import { managementUrls, OrchestrationStateError } from '../orchestration/status';
import type { HttpManagementPayload } from '../orchestration/types';
import { mergeQueuedRefresh, type CatchUpRequest } from './catch-up';
import { CATCH_UP_EVENT, REFRESH_ORCHESTRATOR } from './orchestrator';
import type { RefreshInput } from './types';
import { runInstanceId } from './plan';

/** Durable runtime statuses. */
export type RunRuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Terminated' | 'Canceled' | 'Suspended' | 'Unknown';

/** What a start did. */
export interface RunStart {
  instanceId: string;
  /** A new instance (execution) was created. */
  created: boolean;
  /** The running instance was asked to catch up instead. */
  queued: boolean;
  runtimeStatus: RunRuntimeStatus;
}

/** A run's status. */
export interface RunStatus {
  instanceId: string;
  /** Orchestrator name (`refresh`). */
  name: string;
  runtimeStatus: RunRuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
}

/** Outcome of terminate. */
export type TerminateResult = 'accepted' | 'not-found' | 'not-running';
/** Outcome of purge. */
export type PurgeResult = 'purged' | 'not-found' | 'running';

/** Starting and managing runs. */
export interface RunClient {
  /** Start a pipeline's run, or make the running one catch up. */
  startRun(input: RefreshInput): Promise<RunStart>;
  /** The instance's status, or undefined when there is none. */
  status(instanceId: string): Promise<RunStatus | undefined>;
  terminate(instanceId: string, reason: string): Promise<TerminateResult>;
  /** Delete a finished instance's history. */
  purge(instanceId: string): Promise<PurgeResult>;
  /** The Durable management URLs of an instance (`baseUrl`: the host root the request came to). */
  managementUrls(instanceId: string, baseUrl: string): HttpManagementPayload;
}

const ACTIVE: readonly string[] = ['Pending', 'Running', 'ContinuedAsNew', 'Suspended'];

/**
 * Whether a status is still running (or about to).
 *
 * @param status a runtime status
 * @returns true while active
 */
export function isActive(status: string): boolean {
  return ACTIVE.includes(status);
}

/** Runs on the local engine. */
export class EngineRunClient implements RunClient {
  /** @param engine the engine (its registry must hold the refresh orchestrator and activities) */
  constructor(readonly engine: OrchestrationEngine) {}

  async startRun(input: RefreshInput): Promise<RunStart> {
    // Starts queued behind a running one merge: rebuilds, reasons and request ids all survive.
    const started = await this.engine.startNew(REFRESH_ORCHESTRATOR, { instanceId: runInstanceId(input.pipeline), input: { ...input, catchUp: 'queue' }, ifRunning: 'queue', mergeQueued: mergeQueuedRefresh });
    return { instanceId: started.instanceId, created: started.created, queued: started.queued === true, runtimeStatus: started.runtimeStatus };
  }

  async status(instanceId: string): Promise<RunStatus | undefined> {
    const s = await this.engine.getStatus(instanceId);
    return s && { instanceId: s.instanceId, name: s.name, runtimeStatus: s.runtimeStatus, input: s.input, customStatus: s.customStatus, output: s.output, createdTime: s.createdTime, lastUpdatedTime: s.lastUpdatedTime };
  }

  async terminate(instanceId: string, reason: string): Promise<TerminateResult> {
    try {
      await this.engine.terminate(instanceId, reason);
      return 'accepted';
    } catch (err) {
      if (err instanceof OrchestrationStateError) return err.statusCode === 404 ? 'not-found' : 'not-running';
      throw err;
    }
  }

  async purge(instanceId: string): Promise<PurgeResult> {
    try {
      return (await this.engine.purge(instanceId)).instancesDeleted ? 'purged' : 'not-found';
    } catch (err) {
      if (err instanceof OrchestrationStateError && err.statusCode === 409) return 'running';
      throw err;
    }
  }

  managementUrls(instanceId: string, baseUrl: string): HttpManagementPayload {
    return managementUrls(baseUrl, instanceId);
  }
}

/** Runs on the Durable Functions extension (Azure, or `func start`). */
export class DurableRunClient implements RunClient {
  /** @param client `df.getClient(context)` of a function declaring the durable client input */
  constructor(readonly client: DurableClient) {}

  async startRun(input: RefreshInput): Promise<RunStart> {
    const instanceId = runInstanceId(input.pipeline);
    const current = await this.status(instanceId);
    if (current && isActive(current.runtimeStatus)) return this.catchUp(instanceId, input, current.runtimeStatus);
    try {
      await this.client.startNew(REFRESH_ORCHESTRATOR, { instanceId, input: { ...input, catchUp: 'event' } satisfies RefreshInput });
    } catch (err) {
      // host.json sets overridableExistingInstanceStates: NonRunningStates, so of two triggers that
      // both read "not running", the extension starts one and refuses the other: that one catches up.
      const now = await this.status(instanceId);
      if (now && isActive(now.runtimeStatus)) return this.catchUp(instanceId, input, now.runtimeStatus);
      throw err;
    }
    return { instanceId, created: true, queued: false, runtimeStatus: 'Pending' };
  }

  private async catchUp(instanceId: string, input: RefreshInput, runtimeStatus: RunRuntimeStatus): Promise<RunStart> {
    const asked: CatchUpRequest = { fullRefresh: input.fullRefresh ?? false, reason: input.reason, ...(input.requests ? { requests: input.requests } : {}) };
    await this.client.raiseEvent(instanceId, CATCH_UP_EVENT, asked);
    return { instanceId, created: false, queued: true, runtimeStatus };
  }

  async status(instanceId: string): Promise<RunStatus | undefined> {
    try {
      const s = await this.client.getStatus(instanceId);
      if (!s || !s.runtimeStatus) return undefined;
      const time = (d: unknown) => (d instanceof Date ? d.toISOString() : String(d ?? ''));
      return { instanceId: s.instanceId, name: s.name, runtimeStatus: s.runtimeStatus as RunRuntimeStatus, input: s.input, customStatus: s.customStatus, output: s.output, createdTime: time(s.createdTime), lastUpdatedTime: time(s.lastUpdatedTime) };
    } catch (err) {
      // durable-functions 3 throws for the extension's 404 instead of returning nothing.
      if (/HTTP 404/.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  async terminate(instanceId: string, reason: string): Promise<TerminateResult> {
    const current = await this.status(instanceId);
    if (!current) return 'not-found';
    if (!isActive(current.runtimeStatus)) return 'not-running';
    await this.client.terminate(instanceId, reason);
    return 'accepted';
  }

  async purge(instanceId: string): Promise<PurgeResult> {
    const current = await this.status(instanceId);
    if (!current) return 'not-found';
    if (isActive(current.runtimeStatus)) return 'running';
    return (await this.client.purgeInstanceHistory(instanceId)).instancesDeleted ? 'purged' : 'not-found';
  }

  managementUrls(instanceId: string): HttpManagementPayload {
    return this.client.createHttpManagementPayload(instanceId) as HttpManagementPayload;
  }
}
