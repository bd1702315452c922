/**
 * What the engine shows the outside, in the shapes of the Durable Functions HTTP API
 * (https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-http-api): the instance
 * status object, its `historyEvents` (scheduling events folded into their completions, as the real
 * API does), the management URLs of a 202 "check status" response, and the errors the API maps to
 * 404/409/410.
 */
import { EventType, eventTypeName, WireEvent } from './history';
import { ACTIVE_STATUSES, InstanceRecord } from './history-store';
import type { HttpManagementPayload, OrchestrationStatus, StatusOptions } from './types';
import { parseJson } from './payload';

/** Timestamps at second precision, as the real API prints them. */
function apiTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The status object of an instance row (and its history when asked for). */
export function toStatus(record: InstanceRecord, options: StatusOptions = {}, history?: readonly WireEvent[]): OrchestrationStatus {
  const status: OrchestrationStatus = {
    name: record.name,
    instanceId: record.instanceId,
    runtimeStatus: record.runtimeStatus,
    input: options.showInput === false ? null : (parseJson(record.inputText) ?? null),
    customStatus: parseJson(record.customStatusText) ?? null,
    output: parseJson(record.outputText) ?? null,
    createdTime: apiTime(record.createdTime),
    lastUpdatedTime: apiTime(record.lastUpdatedTime),
  };
  if (options.showHistory && history) status.historyEvents = apiHistory(history, options.showHistoryOutput === true);
  return status;
}

/** History as the HTTP API lists it. */
export function apiHistory(history: readonly WireEvent[], withOutput: boolean): Record<string, unknown>[] {
  const scheduled = new Map<number, WireEvent>();
  const out: Record<string, unknown>[] = [];
  const parse = (text: unknown) => (typeof text === 'string' ? parseJson(text) : text);
  for (const e of history) {
    const base = { EventType: eventTypeName(e.EventType), Timestamp: e.Timestamp };
    switch (e.EventType) {
      case EventType.TaskScheduled:
      case EventType.SubOrchestrationInstanceCreated:
      case EventType.TimerCreated:
        scheduled.set(e.EventId, e);
        break;
      case EventType.OrchestratorStarted:
      case EventType.OrchestratorCompleted:
        break;
      case EventType.ExecutionStarted:
        out.push({ ...base, FunctionName: e.Name, ...(withOutput ? { Input: parse(e.Input) } : {}) });
        break;
      case EventType.TaskCompleted:
      case EventType.SubOrchestrationInstanceCompleted:
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceFailed: {
        const from = scheduled.get(Number(e.TaskScheduledId));
        const failed = e.EventType === EventType.TaskFailed || e.EventType === EventType.SubOrchestrationInstanceFailed;
        out.push({
          ...base,
          FunctionName: from?.Name,
          ...(from?.InstanceId ? { InstanceId: from.InstanceId } : {}),
          ScheduledTime: from?.Timestamp,
          ...(failed ? { Reason: e.Reason, Details: e.Details } : withOutput ? { Result: parse(e.Result) } : {}),
        });
        break;
      }
      case EventType.TimerFired:
        out.push({ ...base, FireAt: e.FireAt });
        break;
      case EventType.EventRaised:
        out.push({ ...base, Name: e.Name, ...(withOutput ? { Input: parse(e.Input) } : {}) });
        break;
      case EventType.ExecutionCompleted:
        out.push({
          ...base,
          OrchestrationStatus: e.OrchestrationStatus,
          ...(withOutput ? { Result: parse(e.Result) } : {}),
          ...(e.FailureDetails ? { FailureDetails: e.FailureDetails } : {}),
        });
        break;
      default:
        out.push({ ...base, ...(e.Input !== undefined ? { Input: parse(e.Input) } : {}) });
    }
  }
  return out;
}

/** HTTP status of a status query: 202 while the instance runs, 200 once it has finished. */
export function statusHttpCode(status: OrchestrationStatus): 200 | 202 {
  return ACTIVE_STATUSES.includes(status.runtimeStatus) ? 202 : 200;
}

/**
 * Management URLs of an instance, as `createCheckStatusResponse` builds them.
 *
 * @param baseUrl host root, e.g. `http://127.0.0.1:7071`
 * @param instanceId the instance
 * @param query extra query string without `?` (the real host adds `taskHub`, `connection`, `code`)
 * @returns the payload
 */
export function managementUrls(baseUrl: string, instanceId: string, query = ''): HttpManagementPayload {
  const root = `${baseUrl.replace(/\/+$/, '')}/runtime/webhooks/durabletask/instances/${encodeURIComponent(instanceId)}`;
  const q = (extra?: string) => {
    const parts = [extra, query].filter(Boolean);
    return parts.length ? `?${parts.join('&')}` : '';
  };
  return {
    id: instanceId,
    statusQueryGetUri: `${root}${q()}`,
    sendEventPostUri: `${root}/raiseEvent/{eventName}${q()}`,
    terminatePostUri: `${root}/terminate${q('reason={text}')}`,
    purgeHistoryDeleteUri: `${root}${q()}`,
    restartPostUri: `${root}/restart${q()}`,
    suspendPostUri: `${root}/suspend${q('reason={text}')}`,
    resumePostUri: `${root}/resume${q('reason={text}')}`,
    rewindPostUri: `${root}/rewind${q('reason={text}')}`,
  };
}

/** An instance operation refused; `statusCode` is what the HTTP API answers. */
export class OrchestrationStateError extends Error {
  constructor(
    message: string,
    readonly statusCode: 404 | 409 | 410,
    readonly instanceId: string,
  ) {
    super(message);
    this.name = 'OrchestrationStateError';
  }
}
