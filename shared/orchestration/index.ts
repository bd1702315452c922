/**
 * Sluice's local Durable Functions engine: runs the orchestrator generators and activity functions
 * written for `durable-functions` (the same functions `df.app.orchestration` / `df.app.activity`
 * register) without the Functions host or the Durable extension, which cannot run here. The local
 * host (`npm start`), `sluice pipeline run` and the tests use it; in Azure the real extension runs
 * the same functions.
 *
 * How it maps to the real thing
 * - The worker side is not emulated: each episode calls the package's own entry point
 *   (`createOrchestrator` → `Orchestrator.handle` → `TaskOrchestrationExecutor`) with the trigger
 *   input the extension sends (`history`, `input`, `instanceId`, `isReplaying`, `parentInstanceId`,
 *   `upperSchemaVersion` V3, timer settings), and reads back the `OrchestratorState` (`isDone`,
 *   `actions`, `output`, `error`, `customStatus`) or the `$OutOfProcData$` of a failure. Activities
 *   go through `wrapActivityHandler`. durable-functions is pinned to 3.5.0 (worker.ts checks).
 * - The extension side is emulated: history events (OrchestratorStarted with the episode's time,
 *   which becomes `currentUtcDateTime`; ExecutionStarted; TaskScheduled/TaskCompleted/TaskFailed;
 *   SubOrchestrationInstanceCreated/Completed/Failed; TimerCreated/TimerFired; EventRaised;
 *   OrchestratorCompleted; ExecutionCompleted/ExecutionTerminated) with sequence numbers linking
 *   completions to their tasks (`TaskScheduledId`, `TimerId`); RetryOptions (first interval, backoff
 *   coefficient, maximum interval, maximum attempts, retry timeout) with DTFx's retry timers;
 *   sub-orchestrations (default id `<parent>:<sequence number>`); durable timers; external events
 *   (buffered until awaited); continue-as-new; custom status; terminate; purge; singleton starts
 *   (`startNew` with a running id returns it, or throws with `ifRunning: 'throw'`); detection of
 *   non-deterministic orchestrators (a replay that schedules something else than before fails the
 *   instance, as DTFx does).
 * - State lives in Azure Table Storage (Azurite locally): `<prefix>Instances`, `<prefix>History` and
 *   `<prefix>Work` (default prefix `SluiceDev`), never the extension's `<hub>Instances`/`<hub>History`;
 *   values over Table Storage's limits go to a payload blob store. Activities run at least once:
 *   one whose result was recorded never runs again, one that was running when its engine died runs
 *   again after its lease lapses (at once for a restarted engine with the same `hostId`).
 * - Status and management follow the HTTP API shapes (status.ts), and `durableWebhook` serves the
 *   `/runtime/webhooks/durabletask/` routes (webhook.ts).
 *
 * Not emulated: durable entities (callEntity, signalEntity, locks), durable HTTP calls (callHttp and
 * its polling), suspend/resume/rewind/restart, versioning, long-timer splitting (not needed: a timer
 * here is one row), cancellation of timers (a cancelled timer still fires later, harmlessly),
 * terminate cascading to sub-orchestrations (the extension does not either), and events raised
 * before an instance finished but never awaited (dropped, as in the extension). A terminated
 * sub-orchestration reports a failure to its parent. Sluice extension: an activity error with
 * `nonRetriable = true` stops its RetryOptions early.
 */
export { OrchestrationEngine } from './engine';
export { connectionStringTables } from '../storage/lake';
export type { EpisodeFaultPoint } from './episode-runner';
export type { ActivityFunction, EngineOptions, InstanceFilter, OrchestrationRegistry, StartOptions, TickResult } from './types';
export { managementUrls, OrchestrationStateError, statusHttpCode, apiHistory } from './status';
export type { HttpManagementPayload, OrchestrationStatus, StatusOptions } from './status';
export type { RuntimeStatus } from './history-store';
export { EventType, eventTypeName } from './history';
export type { WireEvent, WireFailureDetails } from './history';
export { PINNED_DURABLE_FUNCTIONS } from './worker';
export { durableWebhook } from './webhook';
export type { WebhookRequest, WebhookResponse } from './webhook';
