/**
 * HTTP adapters of the dashboard: `GET /api/dashboard` answers the page (built by `npm run build`),
 * `GET /api/dashboard/summary` the numbers it draws (shared/dashboard/summary.ts). Both sit behind the
 * function keys like every other route in Azure; the page sends the key it was opened with.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { buildDashboardSummary } from '../shared/dashboard/summary';
import { dashboardPage } from '../shared/dashboard/page';
import { appRoot, getRuntime } from '../shared/host';
import { readTieringSettings } from '../shared/tiering';
import { internalError } from '../shared/host/http';
import { runtimeServices } from '../shared/run';
import { openLakeStore } from '../shared/storage/lake';
import { DEAD_LETTER_FOLDER } from '../shared/storage/lake-layout';

function failed(name: string, err: unknown, context: InvocationContext): HttpResponseInit {
  const answer = internalError(name, err, (line) => context.error(line));
  return { status: answer.status, jsonBody: answer.body };
}

/** `GET /api/dashboard`: the page. */
export async function dashboardHttp(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const page = dashboardPage();
    return { status: 200, headers: page.headers, body: page.html };
  } catch (err) {
    return failed('dashboard', err, context);
  }
}

/** `GET /api/dashboard/summary`: what the page shows. */
export async function dashboardSummaryHttp(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const runtime = getRuntime();
    const services = runtimeServices();
    const summary = await buildDashboardSummary({
      pipelines: runtime.pipelines,
      lake: (path) => openLakeStore(runtime.settings, path),
      events: services.events,
      deadLetters: openLakeStore(runtime.settings, DEAD_LETTER_FOLDER),
      prices: readTieringSettings(process.env, appRoot())?.prices,
    });
    return { status: 200, headers: { 'cache-control': 'no-store' }, jsonBody: summary };
  } catch (err) {
    return failed('dashboardSummary', err, context);
  }
}
