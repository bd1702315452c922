/**
 * Storage tiering that knows what each file is to its table: classification from the Delta log,
 * policies, the price table, plans and their application, for tables and the landing container.
 */
export { classifyListing, classifyTable, isHidden } from './classify';
export type { ClassifiedFile, ClassifyOptions, FileClass, TableFiles } from './classify';
export { DEFAULT_PRICES, loadPriceTable, MINIMUM_DAYS, TIERS } from './prices';
export type { PriceTable } from './prices';
export { LAYER_DEFAULTS, LANDING_DEFAULT, layerOf, pipelinePolicySources, resolveLandingPolicy, resolveTieringPolicy } from './policy';
export type { LandingPolicy, PolicySource, TieringPolicy } from './policy';
export { DEFAULT_REHYDRATED_GRACE_DAYS, planTiering, tierBytes } from './plan';
export type { BackupCandidate, HeldFile, HoldReason, LandingClass, PlanCost, PlanOptions, TieringPlan, TierMove, TierTarget } from './plan';
export { applyTiering } from './apply';
export type { ApplyOptions, ApplyResult, TierRefusal } from './apply';
export { planLandingTiering } from './landing';
export type { LandingFolder, LandingPlanOptions } from './landing';
export { bytesByTier, planTableTiering } from './table';
export type { TableTierBytes } from './table';
export { readTieringSettings, vacuumDefaultRetention } from './settings';
export type { TieringMode, TieringSettings } from './settings';
export { landingFolders, pipelineTables, policyForLocation, tierLake } from './lake';
export type { LakeTieringOptions, PipelineTable, TieringOutcome } from './lake';
