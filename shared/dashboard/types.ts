/**
 * The contract of `GET /api/dashboard/summary`: what the server answers and the page draws. No imports,
 * so the browser bundle (dashboard/) and the server (summary.ts) share it.
 */
/** A node of a pipeline's graph. */
export interface DashboardNode {
  /** `landing:<folder>`, `eventHub:<hub>` or the table's path in the lake container. */
  id: string;
  kind: 'landing' | 'eventHub' | 'table';
  label: string;
  /** Graph column: 0 inputs, 1 bronze, 2 silver, 3 gold (a custom path goes by its first segment). */
  stage: number;
  layer?: 'bronze' | 'silver' | 'gold' | 'other';
  /** The table's key in the definition (`silver.sales`, or the source name for bronze). */
  key?: string;
  /**
   * `ok`; `stale` when older than its freshness objective; `failed` when its latest update failed;
   * `empty` when it does not exist yet; `unreadable` when its log cannot be read.
   */
  state?: 'ok' | 'stale' | 'failed' | 'empty' | 'unreadable';
  reason?: string;
  version?: number;
  rows?: number | null;
  files?: number;
  bytes?: number;
  /** Last commit that added rows (ISO). */
  lastWrite?: string | null;
  /** Seconds from `lastWrite` to the summary's time. */
  freshnessSeconds?: number | null;
  /** The freshness objective in seconds, when the definition sets one. */
  freshnessObjectiveSeconds?: number;
  /** Bytes of the table's files by access tier (`local` on a disk without tiers). */
  bytesByTier?: Record<string, number>;
  /** Latest update (silver/gold). */
  lastUpdate?: DashboardUpdate;
  /** Latest update that committed rows (silver/gold): where pass rates and quarantine counts come from. */
  lastChange?: DashboardUpdate;
}

/** One recorded table update, as the dashboard shows it. */
export interface DashboardUpdate {
  runId: string;
  table: string;
  status: 'updated' | 'unchanged' | 'skipped' | 'failed';
  recordedAt: string;
  durationMs?: number;
  rowsRead?: number;
  rowsOut?: number;
  quarantined?: number;
  dropped?: number;
  expectations?: { name: string; onViolation: string; passed: number; failed: number; passRate: number | null }[];
  error?: string;
}

/** A pipeline run, from its recorded table updates. */
export interface DashboardRun {
  pipeline: string;
  runId: string;
  status: 'completed' | 'failed';
  startedAt: string | null;
  endedAt: string;
  durationMs: number | null;
  tables: number;
  rowsOut: number;
}

/** A pipeline's graph. */
export interface DashboardPipeline {
  name: string;
  description?: string;
  nodes: DashboardNode[];
  edges: { from: string; to: string }[];
}

/** The whole summary. */
export interface DashboardSummary {
  generatedAt: string;
  pipelines: DashboardPipeline[];
  /** Updates of every silver/gold table, newest first (for volume and duration charts). */
  updates: DashboardUpdate[];
  runs: DashboardRun[];
  deadLetters: { total: number; truncated: boolean; records: { id: string; table: string; reason: string; createdAt: string; rows: number | null }[] };
  /** Bytes by layer and tier, with the monthly storage cost where a price table is known. */
  storage: { layer: string; tier: string; bytes: number; monthlyCostUsd?: number | null }[];
  /** The price table the costs come from (the tiering one: dated, with its source). */
  pricing?: { currency: string; asOf: string; source: string };
}
