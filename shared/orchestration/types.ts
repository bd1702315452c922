/**
 * The engine's public types: the registry of functions it runs, its options, how it reaches
 * Table Storage, the statuses it reports and the crash points its tests inject.
 */
import type { InvocationContext } from '@azure/functions';
import type { TableClient } from '@azure/data-tables';
import type { OrchestrationHandler } from 'durable-functions';
import type { ObjectStore } from '../storage/types';

/**
 * An activity function, as given to `df.app.activity` (`handler`). The input is `any` so that
 * functions declaring their input type (`(n: number) => …`) can be registered as they are.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above: a declared input type must fit
export type ActivityFunction = (input: any, context: InvocationContext) => unknown;

/** The functions the engine can run, by name. */
export interface OrchestrationRegistry {
  orchestrators: Record<string, OrchestrationHandler>;
  activities: Record<string, ActivityFunction>;
}

/** Engine settings. */
export interface EngineOptions {
  /** Storage connection string (Azurite's, `UseDevelopmentStorage=true`, or an account key one). */
  connectionString?: string;
  /** Or: a client per table name. */
  tableClient?: (tableName: string) => TableClient;
  /** Table name prefix (default `SluiceDev`: tables `SluiceDevInstances`, `SluiceDevHistory`, `SluiceDevWork`). */
  tablePrefix?: string;
  /** Where payloads too large for a table entity go (the real extension's large-message container). */
  payloads?: ObjectStore;
  /** Activities run at once by this engine (default 10 × CPUs, as host.json's maxConcurrentActivityFunctions). */
  maxConcurrentActivities?: number;
  /** Episodes run at once (default 8). */
  maxConcurrentOrchestrations?: number;
  /** Lock and lease duration (default 30 s); renewed while an activity runs. */
  leaseMs?: number;
  /** Background loop's idle poll interval (default 200 ms). */
  pollMs?: number;
  /** Stable id of this host; a new engine with the same id takes over the previous one's locks at once. */
  hostId?: string;
  /** One line per event (instance started/finished, activity done). */
  log?: (line: string) => void;
  /** Clock (epoch ms), for tests. */
  clock?: () => number;
  /** For tests: called where a crash would leave an episode half done; throwing there simulates it. */
  fault?: (point: EpisodeFaultPoint, instanceId: string) => void;
}

/** Options of `startNew`. */
export interface StartOptions {
  /** Instance id (default: a new GUID without dashes). */
  instanceId?: string;
  input?: unknown;
  /**
   * When the id is Pending/Running: return the existing instance (default) or throw (HTTP 409), as
   * the extension refuses a start under `overridableExistingInstanceStates: NonRunningStates`. A
   * running singleton is made to catch up with an external event (`raiseEvent`), as in Azure.
   */
  ifRunning?: 'return' | 'throw';
}

/** Filter of `listInstances`. */
export interface InstanceFilter {
  name?: string;
  runtimeStatus?: RuntimeStatus[];
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
}

/** Work done by one `tick`. */
export interface TickResult {
  episodes: number;
  activities: number;
}

/** Points of an episode where a crash leaves partial work behind. */
export type EpisodeFaultPoint = 'afterAppend' | 'afterCommit' | 'afterOutbox';

/** Durable runtime status, as the HTTP API names it. */
export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated' | 'ContinuedAsNew';

/** Instance status as `GET /runtime/webhooks/durabletask/instances/{id}` returns it. */
export interface OrchestrationStatus {
  name: string;
  instanceId: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: Record<string, unknown>[];
}

/** What `getStatus` includes. */
export interface StatusOptions {
  /** Include `historyEvents` (default false). */
  showHistory?: boolean;
  /** Include results and event data in `historyEvents` (default false). */
  showHistoryOutput?: boolean;
  /** Include the input (default true). */
  showInput?: boolean;
}

/** The management URLs of a "check status" response (`HttpManagementPayload`). */
export interface HttpManagementPayload {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  purgeHistoryDeleteUri: string;
  restartPostUri: string;
  suspendPostUri: string;
  resumePostUri: string;
  rewindPostUri: string;
}
