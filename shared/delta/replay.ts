/**
 * Action reconciliation: folding checkpoint rows and commits, in version order, into the state of
 * the table at one version (protocol, metadata, live files, tombstones, transactions, domains).
 */
import { Action, AddFile, DomainMetadata, fileActionKey, Metadata, Protocol, RemoveFile, Txn } from './actions';

/** Reconciled state of a table at one version. */
export interface TableState {
  version: number;
  protocol?: Protocol;
  metadata?: Metadata;
  /** Live files keyed by path (+ deletion vector id). */
  files: Map<string, AddFile>;
  /** Tombstones keyed the same way. */
  tombstones: Map<string, RemoveFile>;
  /** Latest transaction per application id. */
  txns: Map<string, Txn>;
  /** Domain metadata that is not removed. */
  domains: Map<string, DomainMetadata>;
}

/**
 * An empty state, before version 0.
 *
 * @returns a state with version -1
 */
export function emptyState(): TableState {
  return { version: -1, files: new Map(), tombstones: new Map(), txns: new Map(), domains: new Map() };
}

/**
 * Apply the actions of one commit (or one checkpoint) to a state, in place.
 *
 * @param state the state at the previous version
 * @param actions the actions of this version
 * @param version the version they belong to
 */
export function applyActions(state: TableState, actions: Iterable<Action>, version: number): void {
  for (const action of actions) {
    if ('add' in action) {
      const key = fileActionKey(action.add.path, action.add.deletionVector);
      state.files.set(key, action.add);
      state.tombstones.delete(key);
    } else if ('remove' in action) {
      const key = fileActionKey(action.remove.path, action.remove.deletionVector);
      state.files.delete(key);
      state.tombstones.set(key, action.remove);
    } else if ('metaData' in action) {
      state.metadata = action.metaData;
    } else if ('protocol' in action) {
      state.protocol = action.protocol;
    } else if ('txn' in action) {
      state.txns.set(action.txn.appId, action.txn);
    } else if ('domainMetadata' in action) {
      if (action.domainMetadata.removed) state.domains.delete(action.domainMetadata.domain);
      else state.domains.set(action.domainMetadata.domain, action.domainMetadata);
    }
  }
  state.version = version;
}

/**
 * Copy a state so that applying more actions does not change the original.
 *
 * @param state a state
 * @returns an independent copy (actions themselves are shared, they are never mutated)
 */
export function cloneState(state: TableState): TableState {
  return {
    version: state.version,
    protocol: state.protocol,
    metadata: state.metadata,
    files: new Map(state.files),
    tombstones: new Map(state.tombstones),
    txns: new Map(state.txns),
    domains: new Map(state.domains),
  };
}

/**
 * The actions that describe a state, as a checkpoint stores them: protocol, metadata, txns, domains,
 * live adds (`dataChange=false`) and unexpired tombstones.
 *
 * @param state the state
 * @param tombstoneCutoff tombstones deleted before this time (ms) are dropped
 * @returns the actions
 */
export function stateToActions(state: TableState, tombstoneCutoff: number): Action[] {
  const out: Action[] = [];
  if (state.protocol) out.push({ protocol: state.protocol });
  if (state.metadata) out.push({ metaData: state.metadata });
  for (const txn of state.txns.values()) out.push({ txn });
  for (const domainMetadata of state.domains.values()) out.push({ domainMetadata });
  for (const add of state.files.values()) out.push({ add: { ...add, dataChange: false } });
  for (const remove of state.tombstones.values()) {
    if ((remove.deletionTimestamp ?? 0) >= tombstoneCutoff) out.push({ remove: { ...remove, dataChange: false } });
  }
  return out;
}
