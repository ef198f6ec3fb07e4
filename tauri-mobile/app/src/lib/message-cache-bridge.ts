import type { ChatMessage, ImportReport } from 'tauri-plugin-chatsync-api'
import * as chatsync from 'tauri-plugin-chatsync-api'
import { type CachePhase, configuredCachePhase } from './config'
import { LegacyMessageCache } from './legacy-message-cache'

/** What the bridge needs from the core (the plugin's commands). */
export interface CoreMessageCache {
  getCachedMessages(requestId: string): Promise<ChatMessage[]>
  importLegacyMessages(messages: ChatMessage[]): Promise<ImportReport>
}

/** Remembers that the one-shot import ran (per server). */
export interface ImportMarker {
  isDone(key: string): boolean
  markDone(key: string): void
}

const MARKER_PREFIX = 'chatsync.legacyImported:'

/** The marker in `localStorage`; a no-op marker where there is none. */
export function localStorageMarker(storage: Storage | null = globalStorage()): ImportMarker {
  return {
    isDone: (key) => storage?.getItem(MARKER_PREFIX + key) === 'done',
    markDone: (key) => storage?.setItem(MARKER_PREFIX + key, 'done')
  }
}

function globalStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage
  } catch {
    return null
  }
}

/**
 * The seed's migration bridge between the old IndexedDB cache and the core's
 * SQLite cache (which the Rust core writes itself as it syncs):
 *
 * - phase 1: write both, read IndexedDB;
 * - phase 2: write both, read SQLite (the default);
 * - phase 3: SQLite only; the legacy database is deleted after the import.
 *
 * "Write both" means every change the core reports is mirrored into IndexedDB,
 * so rolling back to phase 1 (or to an old build) finds a current cache.
 * Mirroring failures never break the UI: they are reported through `onError`.
 */
export class MessageCacheBridge {
  readonly phase: CachePhase
  readonly #legacy: LegacyMessageCache
  readonly #core: CoreMessageCache
  readonly #marker: ImportMarker
  readonly #onError: (error: unknown) => void

  constructor(
    options: {
      phase?: CachePhase
      legacy?: LegacyMessageCache
      core?: CoreMessageCache
      marker?: ImportMarker
      onError?: (error: unknown) => void
    } = {}
  ) {
    this.phase = options.phase ?? configuredCachePhase()
    this.#legacy = options.legacy ?? new LegacyMessageCache()
    this.#core = options.core ?? chatsync
    this.#marker = options.marker ?? localStorageMarker()
    this.#onError = options.onError ?? ((error) => console.warn('message cache bridge:', error))
  }

  /** True while IndexedDB is still written (phases 1 and 2). */
  get writesLegacy(): boolean {
    return this.phase !== 3
  }

  /**
   * The messages the UI shows for a chat. `fromCore` is what `openChat` already
   * returned from SQLite (saves a second read); in phase 1 it is mirrored into
   * IndexedDB first and IndexedDB is read.
   */
  async readMessages(requestId: string, fromCore?: ChatMessage[]): Promise<ChatMessage[]> {
    if (this.phase === 1) {
      if (fromCore !== undefined) await this.#mirror(requestId, fromCore, [])
      try {
        return await this.#legacy.getCachedMessages(requestId)
      } catch (error) {
        // A broken legacy cache must not hide the chat: fall back to SQLite.
        this.#onError(error)
      }
    }
    return fromCore ?? (await this.#core.getCachedMessages(requestId))
  }

  /** Mirrors a change set the core reported (phases 1 and 2). */
  async recordChanges(
    requestId: string,
    upserts: readonly ChatMessage[],
    removedIds: readonly string[] = []
  ): Promise<void> {
    if (this.writesLegacy) await this.#mirror(requestId, upserts, removedIds)
  }

  async #mirror(
    requestId: string,
    upserts: readonly ChatMessage[],
    removedIds: readonly string[]
  ): Promise<void> {
    try {
      await this.#legacy.applyChanges(requestId, upserts, removedIds)
    } catch (error) {
      this.#onError(error)
    }
  }

  /**
   * Imports the legacy cache into the core once per `key` (the server URL): old
   * users keep their history without refetching it. In phase 3 the legacy
   * database is deleted once the import succeeded. Returns null when it already
   * ran; throws (and stays not done) when the core could not be reached.
   */
  async importLegacyOnce(key: string): Promise<ImportReport | null> {
    if (this.#marker.isDone(key)) {
      if (this.phase === 3) await this.#destroyLegacy()
      return null
    }
    let messages: ChatMessage[]
    try {
      messages = await this.#legacy.getAllMessages()
    } catch (error) {
      // Unreadable legacy data: nothing to import, and nothing worth retrying.
      this.#onError(error)
      messages = []
    }
    const report =
      messages.length === 0
        ? { imported: 0, skipped: 0, rejected: 0, errors: [] }
        : await this.#core.importLegacyMessages(messages)
    this.#marker.markDone(key)
    if (this.phase === 3) await this.#destroyLegacy()
    return report
  }

  async #destroyLegacy(): Promise<void> {
    try {
      await this.#legacy.destroy()
    } catch (error) {
      this.#onError(error)
    }
  }

  /** Clears the legacy cache (sign-out: the core clears SQLite itself). */
  async clear(): Promise<void> {
    try {
      await this.#legacy.clear()
    } catch (error) {
      this.#onError(error)
    }
  }
}

let shared: MessageCacheBridge | null = null

/** The app's bridge (phase from `configuredCachePhase()`). */
export function messageCacheBridge(): MessageCacheBridge {
  shared ??= new MessageCacheBridge()
  return shared
}

/** Replaces the app's bridge (tests, or a phase change at runtime); null resets it. */
export function setMessageCacheBridge(bridge: MessageCacheBridge | null): void {
  shared = bridge
}
