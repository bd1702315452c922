/**
 * Starting and managing pipeline runs, one interface over two back ends:
 * - `DurableRunClient` over the `durable-functions` client (`df.getClient(context)`) in Azure;
 * - `EngineRunClient` over Sluice's local `OrchestrationEngine` (local host, CLI, tests).
 *
 * Both start runs the same way (`startOrCatchUp`), so `npm start` and `sluice pipeline run` take the
 * path Azure takes. One instance per pipeline (`refresh-<pipeline>`): a start while it runs raises
 * the `catchUp` event instead, which the orchestrator reads before it finishes and continues as new
 * (orchestrator.ts). Two triggers racing to start a finished instance cannot both start it: host.json's
 * `overridableExistingInstanceStates: NonRunningStates` (and the engine's `ifRunning: 'throw'`)
 * refuses one, which then raises `catchUp` instead.
 *
 * The gap of the event path, closed here: Durable drops an event raised on an instance that has
 * finished (the extension answers 410 and the client returns as if delivered), and a run past its
 * last look at its events finishes without them. So after raising, the starter reads the instance
 * again: while the run is at its last look (`stage: catching-up`) or failing, it waits to see it
 * continue or end; when it ended without taking the event, the starter starts the run itself. A
 * request's event is raised again when a run other than the one it was raised on shows up without
 * carrying the request (another trigger started or continued the run in between; catchUpTaken).
 */
import type { DurableClient } from 'durable-functions';
import type { OrchestrationEngine } from '../orchestration/engine';
import { managementUrls, OrchestrationStateError } from '../orchestration/status';
import type { HttpManagementPayload } from '../orchestration/types';
import type { CatchUpRequest } from './catch-up';
import { CATCH_UP_EVENT, REFRESH_ORCHESTRATOR, type RefreshProgress } from './orchestrator';
import type { RefreshInput } from './types';
import { runInstanceId } from './plan';

/** Durable runtime statuses. */
export type RunRuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Terminated' | 'Canceled' | 'Suspended' | 'Unknown';

/** What a start did. */
export interface RunStart {
  instanceId: string;
  /** A new instance (execution) was created. */
  created: boolean;
  /** The running instance was asked to catch up instead (its `catchUp` event was taken). */
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

/** What starting a run asks of a back end: the three calls the Durable client has. */
interface InstanceControl {
  status(instanceId: string): Promise<RunStatus | undefined>;
  /** Create a new execution; rejects when the instance is running. */
  create(instanceId: string, input: RefreshInput): Promise<void>;
  /** Raise an event; may resolve (Durable) or reject (the engine) when the instance has finished. */
  raise(instanceId: string, event: string, data: CatchUpRequest): Promise<void>;
}

/** Stages of a run that will not look at its `catchUp` events again (orchestrator.ts). */
const PAST_LAST_LOOK: readonly string[] = ['catching-up', 'failed', 'completed'];
/** Most rounds of start-or-raise before giving up (each ends by a finished run restarting the race). */
const MAX_START_ROUNDS = 8;
/** How long a starter waits for a run at its last look to continue or end. */
const LAST_LOOK_WAIT_MS = 30_000;

/**
 * Start a pipeline's run, or make the running one catch up; see this file's header.
 *
 * @param control the back end
 * @param input the run's input
 * @param pollMs how often to read the instance while waiting for a run's last look
 * @returns what happened
 */
async function startOrCatchUp(control: InstanceControl, input: RefreshInput, pollMs: number): Promise<RunStart> {
  const instanceId = runInstanceId(input.pipeline);
  const asked: CatchUpRequest = {
    fullRefresh: input.fullRefresh ?? false,
    ...(input.reason !== undefined ? { reason: input.reason } : {}),
    ...(input.requests ? { requests: input.requests } : {}),
  };
  for (let round = 0; round < MAX_START_ROUNDS; round++) {
    const current = await control.status(instanceId);
    if (!current || !isActive(current.runtimeStatus)) {
      try {
        await control.create(instanceId, input);
        return { instanceId, created: true, queued: false, runtimeStatus: 'Pending' };
      } catch (err) {
        // Refused because another trigger started it in the meantime: that run catches up instead.
        const now = await control.status(instanceId);
        if (now && isActive(now.runtimeStatus)) continue;
        throw err;
      }
    }
    try {
      await control.raise(instanceId, CATCH_UP_EVENT, asked);
    } catch (err) {
      const now = await control.status(instanceId);
      if (now && isActive(now.runtimeStatus)) throw err;
      continue; // it finished before the event reached it: start it anew
    }
    const taken = await catchUpTaken(control, instanceId, input, current, pollMs);
    if (taken) return { instanceId, created: false, queued: true, runtimeStatus: taken.runtimeStatus };
  }
  throw new Error(`could not start or catch up run ${instanceId}: it kept finishing between ${MAX_START_ROUNDS} starts and catch-up events`);
}

/**
 * Whether a raised `catchUp` event will be (or was) taken by the run: yes while the run has not
 * reached its last look at its events; if it has, wait until it continues as new (taking the event)
 * or ends (dropping it).
 *
 * @param raisedOn the status read just before raising (the execution the event was meant for)
 * @returns the status the run was seen in when it took (or will take) the event, or null when it
 *   ended without it, or when a request's event may have been lost with it (raise again)
 */
async function catchUpTaken(control: InstanceControl, instanceId: string, input: RefreshInput, raisedOn: RunStatus, pollMs: number): Promise<RunStatus | null> {
  const deadline = Date.now() + LAST_LOOK_WAIT_MS;
  const requests = input.requests ?? [];
  const runOf = (s: RunStatus) => (s.customStatus as Partial<RefreshProgress> | undefined)?.runId;
  for (;;) {
    const status = await control.status(instanceId);
    if (!status) return null;
    const carries = requests.some((r) => ((status.input as RefreshInput | undefined)?.requests ?? []).includes(r));
    if (carries) return status;
    if (!isActive(status.runtimeStatus)) return null;
    const stage = (status.customStatus as Partial<RefreshProgress> | undefined)?.stage;
    if (stage !== undefined && PAST_LAST_LOOK.includes(stage)) {
      // A run stuck at its last look (no engine driving it) is left to take the event when it resumes.
      if (Date.now() >= deadline) return status;
      await new Promise((r) => setTimeout(r, pollMs));
      continue;
    }
    // Before its last look (or a new execution, which starts at `planning`). A request's event is
    // taken for sure only by the run it was raised on: a run since started (another created time,
    // or another run id) that does not carry the request came after the run raised on ended or
    // continued without the event (it reached that run past its last look, while another trigger
    // started or continued it between two reads). Whether the event reached the new run is unknown,
    // so it is raised again; a request id twice merges into one. Without request ids there is
    // nothing to lose: any run that plans after the raise reads the commit that triggered it.
    if (requests.length) {
      const [was, now] = [runOf(raisedOn), runOf(status)];
      if (status.createdTime !== raisedOn.createdTime || (was !== undefined && now !== undefined && was !== now)) return null;
    }
    return status;
  }
}

/** Runs on the local engine. */
export class EngineRunClient implements RunClient {
  private readonly control: InstanceControl;

  /** @param engine the engine (its registry must hold the refresh orchestrator and activities) */
  constructor(readonly engine: OrchestrationEngine) {
    this.control = {
      status: (id) => this.status(id),
      create: async (id, input) => {
        await engine.startNew(REFRESH_ORCHESTRATOR, { instanceId: id, input, ifRunning: 'throw' });
      },
      raise: (id, event, data) => engine.raiseEvent(id, event, data),
    };
  }

  startRun(input: RefreshInput): Promise<RunStart> {
    return startOrCatchUp(this.control, input, 50);
  }
  async status(instanceId: string): Promise<RunStatus | undefined> {
    const s = await this.engine.getStatus(instanceId);
    return (
      s && {
        instanceId: s.instanceId,
        name: s.name,
        runtimeStatus: s.runtimeStatus,
        input: s.input,
        customStatus: s.customStatus,
        output: s.output,
        createdTime: s.createdTime,
        lastUpdatedTime: s.lastUpdatedTime,
      }
    );
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
  private readonly control: InstanceControl;

  /** @param client `df.getClient(context)` of a function declaring the durable client input */
  constructor(readonly client: DurableClient) {
    this.control = {
      status: (id) => this.status(id),
      create: async (id, input) => {
        await client.startNew(REFRESH_ORCHESTRATOR, { instanceId: id, input });
      },
      raise: (id, event, data) => client.raiseEvent(id, event, data),
    };
  }

  startRun(input: RefreshInput): Promise<RunStart> {
    return startOrCatchUp(this.control, input, 500);
  }

  async status(instanceId: string): Promise<RunStatus | undefined> {
    try {
      const s = await this.client.getStatus(instanceId);
      if (!s || !s.runtimeStatus) return undefined;
      const time = (d: unknown) => (d instanceof Date ? d.toISOString() : String(d ?? ''));
      return {
        instanceId: s.instanceId,
        name: s.name,
        runtimeStatus: s.runtimeStatus as RunRuntimeStatus,
        input: s.input,
        customStatus: s.customStatus,
        output: s.output,
        createdTime: time(s.createdTime),
        lastUpdatedTime: time(s.lastUpdatedTime),
      };
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
