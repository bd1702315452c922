/**
 * An `ObjectStore` decorator that makes rehydration from Archive take time, as it does on Azure.
 *
 * Azurite completes `Set Blob Tier` from Archive at once, so the state every real rehydration passes
 * through (the blob still in Archive with `archiveStatus: rehydrate-pending-to-hot`, unreadable) never
 * shows there. This wrapper keeps a file in that state for a number of listings that see it (a check of
 * the rehydration is one listing), reporting it as Azure does (tier Archive, `archiveStatus`,
 * `rehydratePriority`, `accessTierChangedOn`), then applies the tier change to the store beneath.
 * Like Azure, it lets a pending Standard request be raised to High, and refuses a request for
 * another tier while one is pending (409).
 */
import type {
  AccessTier,
  ByteRange,
  ObjectContent,
  ObjectInfo,
  ObjectStore,
  RehydratePriority,
  SetAccessTierOptions,
  WriteOptions,
} from '../../shared/storage/types';
import { StorageError } from '../../shared/storage/types';

/** A rehydration the wrapper holds back. */
interface Held {
  to: AccessTier;
  priority: RehydratePriority;
  since: Date;
  /** Listings that must still see it pending. */
  polls: number;
}

/** What happened, for the tests to check. */
export interface RehydrationLog {
  /** Tier requests out of Archive, in order. */
  requests: { path: string; tier: AccessTier; priority: RehydratePriority }[];
  /** Pending Standard requests raised to High. */
  raised: string[];
  /** Rehydrations completed (applied to the store beneath). */
  completed: string[];
}

export class PendingRehydrationStore implements ObjectStore {
  readonly url: string;
  readonly log: RehydrationLog = { requests: [], raised: [], completed: [] };
  /** Paths whose tier requests storage refuses, with the reason (as for a blob under an active lease). */
  readonly refuse = new Map<string, string>();
  private readonly held = new Map<string, Held>();

  /**
   * @param inner the real store (Azurite)
   * @param polls listings a rehydrating file stays pending for
   */
  constructor(
    private readonly inner: ObjectStore,
    private readonly polls: number,
  ) {
    this.url = inner.url;
  }

  /** Paths still pending. */
  pendingPaths(): string[] {
    return [...this.held.keys()].sort();
  }

  read(path: string, range?: ByteRange): Promise<Uint8Array> {
    // The store beneath still has the file in Archive, so it refuses the read as Azure would.
    return this.inner.read(path, range);
  }
  write(path: string, content: ObjectContent, options?: WriteOptions): Promise<ObjectInfo> {
    return this.inner.write(path, content, options);
  }
  createIfAbsent(path: string, content: Uint8Array | string, options?: WriteOptions): Promise<ObjectInfo> {
    return this.inner.createIfAbsent(path, content, options);
  }
  delete(path: string): Promise<void> {
    this.held.delete(path);
    return this.inner.delete(path);
  }
  copy(fromPath: string, toPath: string): Promise<ObjectInfo> {
    return this.inner.copy(fromPath, toPath);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const info of this.inner.list(prefix)) {
      const held = this.held.get(info.path);
      if (!held) {
        yield info;
        continue;
      }
      if (--held.polls > 0) {
        yield this.pendingInfo(info, held);
        continue;
      }
      await this.complete(info.path, held);
      yield await this.inner.properties(info.path);
    }
  }

  async properties(path: string): Promise<ObjectInfo> {
    const info = await this.inner.properties(path);
    const held = this.held.get(path);
    return held ? this.pendingInfo(info, held) : info;
  }

  async setAccessTier(path: string, tier: AccessTier, options?: SetAccessTierOptions): Promise<void> {
    const priority = options?.rehydratePriority ?? 'Standard';
    const refused = this.refuse.get(path);
    if (refused) throw new StorageError(refused);
    const held = this.held.get(path);
    if (held) {
      if (tier !== held.to) throw new StorageError(`409 BlobBeingRehydrated: ${path} is being rehydrated to ${held.to}; it cannot be set to ${tier}`);
      if (priority === 'High' && held.priority === 'Standard') {
        held.priority = 'High';
        this.log.raised.push(path);
      }
      return;
    }
    const current = await this.inner.properties(path);
    if (current.accessTier !== 'Archive' || tier === 'Archive') return this.inner.setAccessTier(path, tier, options);
    this.log.requests.push({ path, tier, priority });
    this.held.set(path, { to: tier, priority, since: new Date(), polls: this.polls });
  }

  private pendingInfo(info: ObjectInfo, held: Held): ObjectInfo {
    return {
      ...info,
      accessTier: 'Archive',
      archiveStatus: `rehydrate-pending-to-${held.to.toLowerCase()}`,
      rehydratePriority: held.priority,
      accessTierChangedOn: held.since,
    };
  }

  private async complete(path: string, held: Held): Promise<void> {
    this.held.delete(path);
    await this.inner.setAccessTier(path, held.to);
    this.log.completed.push(path);
  }
}
