/**
 * OpenTelemetry export of the Function App: with `APPLICATIONINSIGHTS_CONNECTION_STRING` set (the
 * Bicep sets it), the Azure Monitor distro is registered (traces, metrics, logs to Application
 * Insights) with the Azure Functions instrumentation, which links our spans to the host's invocation
 * and forwards the invocation logs; host.json's `telemetryMode: OpenTelemetry` makes the host send its
 * own telemetry the same way. Sign-in is with the app's managed identity when
 * `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` says `Authorization=AAD` (`ClientId=<guid>` for a
 * user-assigned identity), as the Bicep sets it: the resource has local authentication off.
 *
 * index.ts imports this module first, so the instrumentation is in place before `@azure/functions`
 * is loaded. Without the connection string (the local host, tests) nothing is registered and
 * shared/telemetry.ts stays a no-op.
 *
 * | setting | default | meaning |
 * |---|---|---|
 * | `APPLICATIONINSIGHTS_CONNECTION_STRING` | unset | Application Insights resource the telemetry goes to; unset: nothing is exported |
 * | `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` | unset | `Authorization=AAD` (with `ClientId=<guid>` for a user-assigned identity): sign in with the managed identity |
 */
import { logs } from '@opentelemetry/api-logs';
import { trace } from '@opentelemetry/api';
import { exportLogsThroughOpenTelemetry } from '../shared/telemetry';

let started = false;

/**
 * The credential options an authentication string asks for.
 *
 * @param text `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`, e.g. `ClientId=<guid>;Authorization=AAD`
 * @returns null without `Authorization=AAD`, else the client id (undefined: system-assigned identity)
 */
export function entraAuthentication(text: string | undefined): { clientId?: string } | null {
  const parts = new Map(
    (text ?? '')
      .split(';')
      .map((p) => p.split('='))
      .filter((kv) => kv.length === 2)
      .map(([k, v]) => [k.trim().toLowerCase(), v.trim()]),
  );
  if (parts.get('authorization')?.toLowerCase() !== 'aad') return null;
  const clientId = parts.get('clientid');
  return clientId ? { clientId } : {};
}

/**
 * Register the exporter once, when Application Insights is configured.
 *
 * @param env the app settings
 * @returns whether telemetry is exported
 */
export function startTelemetry(env: NodeJS.ProcessEnv = process.env): boolean {
  if (started) return true;
  const connectionString = env.APPLICATIONINSIGHTS_CONNECTION_STRING?.trim();
  if (!connectionString) return false;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when Application Insights is configured: the distro is large and the local host never needs it */
  const { useAzureMonitor } = require('@azure/monitor-opentelemetry') as typeof import('@azure/monitor-opentelemetry');
  const { registerInstrumentations } = require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');
  const { AzureFunctionsInstrumentation } =
    require('@azure/functions-opentelemetry-instrumentation') as typeof import('@azure/functions-opentelemetry-instrumentation');
  const entra = entraAuthentication(env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING);
  let credential;
  if (entra) {
    const { ManagedIdentityCredential } = require('@azure/identity') as typeof import('@azure/identity');
    credential = entra.clientId ? new ManagedIdentityCredential({ clientId: entra.clientId }) : new ManagedIdentityCredential();
  }
  /* eslint-enable @typescript-eslint/no-require-imports */
  useAzureMonitor({ azureMonitorExporterOptions: { connectionString, ...(credential ? { credential } : {}) } });
  registerInstrumentations({
    tracerProvider: trace.getTracerProvider(),
    loggerProvider: logs.getLoggerProvider(),
    instrumentations: [new AzureFunctionsInstrumentation()],
  });
  exportLogsThroughOpenTelemetry();
  started = true;
  return true;
}

startTelemetry();
