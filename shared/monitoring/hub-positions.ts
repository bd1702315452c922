/**
 * Where the app's Event Hub stands: the last sequence number enqueued per partition, read from the
 * Event Hubs service with the trigger's own connection (`SLUICE_EVENTHUB`, a connection string, or
 * `SLUICE_EVENTHUB__fullyQualifiedNamespace` with the managed identity, whose Azure Event Hubs Data
 * Receiver role covers these runtime-information calls). The local host's stand-in keeps its own
 * positions (timer.ts reads those).
 */
import type { EventHubSettings } from '../host/settings';
import type { HubPositions } from './ingestion-lag';

/**
 * A reader of the app's Event Hub's partitions.
 *
 * @param hub the app's Event Hub settings
 * @param env the app settings (the connection string, or the identity's client id)
 * @returns the reader (null for another hub than the app's)
 */
export function eventHubPositions(hub: EventHubSettings, env: Readonly<Record<string, string | undefined>> = process.env): HubPositions {
  return async (name) => {
    if (name.toLowerCase() !== hub.name.toLowerCase()) return null;
    /* eslint-disable @typescript-eslint/no-require-imports -- the Event Hubs SDK is loaded only where a hub is configured */
    const { EventHubConsumerClient } = require('@azure/event-hubs') as typeof import('@azure/event-hubs');
    let client: InstanceType<typeof EventHubConsumerClient>;
    if (hub.kind === 'connectionString') client = new EventHubConsumerClient(hub.consumerGroup, env[hub.connection]!, hub.name);
    else {
      const identity = require('@azure/identity') as typeof import('@azure/identity');
      /* eslint-enable @typescript-eslint/no-require-imports */
      const clientId = env[`${hub.connection}__clientId`]?.trim();
      const credential =
        env[`${hub.connection}__credential`]?.trim().toLowerCase() === 'managedidentity'
          ? new identity.ManagedIdentityCredential(clientId ? { clientId } : {})
          : new identity.DefaultAzureCredential();
      client = new EventHubConsumerClient(hub.consumerGroup, hub.namespace, hub.name, credential);
    }
    try {
      const out: Record<string, number> = {};
      for (const partition of await client.getPartitionIds()) {
        const p = await client.getPartitionProperties(partition);
        // An empty partition has no last event: nothing is waiting there.
        if (!p.isEmpty) out[partition] = p.lastEnqueuedSequenceNumber;
      }
      return out;
    } finally {
      await client.close();
    }
  };
}
