/**
 * The one list of Sluice's functions. `index.ts` registers it with the Azure Functions host; the local
 * host (`npm start`) serves the same list, so a function cannot exist in one and be missing in the
 * other. This module registers nothing itself.
 */
import type { HttpHandler, HttpMethod, TimerHandler } from '@azure/functions';
import { describeTableHttp, tableHistoryHttp } from './tables';

/** An HTTP-triggered function. */
export interface HttpFunctionDefinition {
  kind: 'http';
  name: string;
  /** Route under `/api/`, with `{param}` placeholders. */
  route: string;
  methods: HttpMethod[];
  handler: HttpHandler;
}

/** A timer-triggered function. */
export interface TimerFunctionDefinition {
  kind: 'timer';
  name: string;
  /** NCRONTAB schedule (six fields) or `%AppSetting%`. */
  schedule: string;
  handler: TimerHandler;
}

/** Any function definition. */
export type FunctionDefinition = HttpFunctionDefinition | TimerFunctionDefinition;

/** Every function of the app. */
export const FUNCTIONS: readonly FunctionDefinition[] = [
  { kind: 'http', name: 'describeTable', route: 'tables/{layer}/{table}', methods: ['GET'], handler: describeTableHttp },
  { kind: 'http', name: 'tableHistory', route: 'tables/{layer}/{table}/history', methods: ['GET'], handler: tableHistoryHttp },
];
