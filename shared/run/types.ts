/**
 * The run's contract: what starts a pipeline's `refresh` orchestration. It lives apart from the
 * orchestrator so that the catch-up merging, the clients and the front doors can name it without
 * importing the orchestration's code.
 */

/** Input of the `refresh` orchestration. */
export interface RefreshInput {
  pipeline: string;
  /** Rebuild every table (true) or the tables named from their sources' current versions. */
  fullRefresh?: boolean | string[];
  /** Why the run started (shown in status and event log), e.g. `bronze pos_sales version 3`. */
  reason?: string;
  /** Ids of the requests this run serves (merged runs carry all of them; the CLI waits for its own). */
  requests?: string[];
  /**
   * Most tables one instance refreshes at once in a level (default `MAX_FAN_OUT`); larger levels are
   * split into sub-orchestrations. An integer of at least 2; tests lower it to see the split.
   */
  maxFanOut?: number;
}
