/** Sluice settings from the environment, validated once at start-up. See `settings.ts` for the table. */
export {
  ConfigError,
  getSettings,
  loadSettings,
  type LakeConnection,
  type LakeConnectionString,
  type LakeIdentityConnection,
  type SettingsEnv,
  type SluiceSettings,
} from './settings';
