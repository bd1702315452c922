/** Sluice settings from the environment, validated once at start-up. See `settings.ts` for the table. */
export {
  ACTIVITY_CONCURRENCY_SETTING,
  ConfigError,
  getSettings,
  loadInstanceResources,
  loadMaintenanceSettings,
  loadSettings,
  readPiiKey,
  type InstanceResources,
  type MaintenanceSettings,
  type LakeConnection,
  type LakeConnectionString,
  type LakeIdentityConnection,
  type SettingsEnv,
  type SluiceSettings,
} from './settings';
