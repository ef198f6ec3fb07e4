import type { ChatMessage } from 'tauri-plugin-chatsync-api'
import { compareMessages } from './messages'

/** Name of the IndexedDB database the pre-SQLite app used as its message cache. */
export const LEGACY_DB_NAME = 'requester-message-cache'
/** Its schema version. */
export const LEGACY_DB_VERSION = 1

const MESSAGES = 'messages'
const META = 'chat_meta'

/** One row of the legacy `chat_meta` store (the seed's `chat_meta` table). */
export interface LegacyChatMeta {
  requestId: string
  latestSequence: number | null
  lastUpdated: number
  messageCount: number
}

function promised<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'))
  })
}

function done(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve()
    transaction.onabort = () =>
      reject(transaction.error ?? new Error('IndexedDB transaction aborted'))
    transaction.onerror = () =>
      reject(transaction.error ?? new Error('IndexedDB transaction failed'))
  })
}

/**
 * The old IndexedDB message cache, kept during the migration to the core's
 * SQLite cache (see `message-cache-bridge.ts`). Messages are keyed by id with an
 * index per chat; every write of a chat's messages updates its `chat_meta` row
 * in the same transaction.
 */
export class LegacyMessageCache {
  readonly #factory: IDBFactory
  readonly #name: string
  #db: Promise<IDBDatabase> | null = null

  constructor(factory: IDBFactory = indexedDB, name: string = LEGACY_DB_NAME) {
    this.#factory = factory
    this.#name = name
  }

  #open(): Promise<IDBDatabase> {
    if (this.#db === null) {
      const request = this.#factory.open(this.#name, LEGACY_DB_VERSION)
      request.onupgradeneeded = () => {
        const db = request.result
        if (!db.objectStoreNames.contains(MESSAGES)) {
          const store = db.createObjectStore(MESSAGES, { keyPath: 'id' })
          store.createIndex('by_request', 'requestId')
        }
        if (!db.objectStoreNames.contains(META)) {
          db.createObjectStore(META, { keyPath: 'requestId' })
        }
      }
      this.#db = promised(request).then((db) => {
        // Another tab upgrading or deleting the database: let it, reopen on next use.
        db.onversionchange = () => {
          db.close()
          this.#db = null
        }
        return db
      })
      this.#db.catch(() => {
        this.#db = null
      })
    }
    return this.#db
  }

  /** The chat's cached messages in display order. */
  async getCachedMessages(requestId: string): Promise<ChatMessage[]> {
    const db = await this.#open()
    const tx = db.transaction(MESSAGES, 'readonly')
    const rows = await promised(tx.objectStore(MESSAGES).index('by_request').getAll(requestId))
    return (rows as ChatMessage[]).sort(compareMessages)
  }

  /** Every cached message of every chat (for the one-shot import). */
  async getAllMessages(): Promise<ChatMessage[]> {
    const db = await this.#open()
    const tx = db.transaction(MESSAGES, 'readonly')
    return (await promised(tx.objectStore(MESSAGES).getAll())) as ChatMessage[]
  }

  /** The chat's meta row, or null. */
  async getChatMeta(requestId: string): Promise<LegacyChatMeta | null> {
    const db = await this.#open()
    const tx = db.transaction(META, 'readonly')
    const row = await promised(tx.objectStore(META).get(requestId))
    return (row as LegacyChatMeta | undefined) ?? null
  }

  /** Replaces all of a chat's messages. */
  async cacheMessages(requestId: string, messages: readonly ChatMessage[]): Promise<void> {
    await this.#write(requestId, (store, existing) => {
      for (const message of existing) store.delete(message.id)
      for (const message of messages) store.put(message)
    })
  }

  /** Upserts messages (by id) and deletes `removedIds` in one transaction per chat. */
  async applyChanges(
    requestId: string,
    upserts: readonly ChatMessage[],
    removedIds: readonly string[] = []
  ): Promise<void> {
    if (upserts.length === 0 && removedIds.length === 0) return
    await this.#write(requestId, (store) => {
      for (const id of removedIds) store.delete(id)
      for (const message of upserts) store.put(message)
    })
  }

  /** Adds or replaces one message. */
  async addMessage(message: ChatMessage): Promise<void> {
    await this.applyChanges(message.requestId, [message])
  }

  async #write(
    requestId: string,
    change: (store: IDBObjectStore, existing: ChatMessage[]) => void
  ): Promise<void> {
    const db = await this.#open()
    const tx = db.transaction([MESSAGES, META], 'readwrite')
    const finished = done(tx)
    const store = tx.objectStore(MESSAGES)
    const index = store.index('by_request')
    const existing = (await promised(index.getAll(requestId))) as ChatMessage[]
    change(store, existing)
    const after = (await promised(index.getAll(requestId))) as ChatMessage[]
    const sequences = after.flatMap((m) => (m.sequenceNumber === null ? [] : [m.sequenceNumber]))
    const meta: LegacyChatMeta = {
      requestId,
      latestSequence: sequences.length === 0 ? null : Math.max(...sequences),
      lastUpdated: Date.now(),
      messageCount: after.length
    }
    tx.objectStore(META).put(meta)
    await finished
  }

  /** Deletes every row (the database stays). */
  async clear(): Promise<void> {
    const db = await this.#open()
    const tx = db.transaction([MESSAGES, META], 'readwrite')
    const finished = done(tx)
    tx.objectStore(MESSAGES).clear()
    tx.objectStore(META).clear()
    await finished
  }

  /** Closes and deletes the whole database (phase 3: the migration is over). */
  async destroy(): Promise<void> {
    if (this.#db !== null) {
      const db = await this.#db.catch(() => null)
      db?.close()
      this.#db = null
    }
    await new Promise<void>((resolve, reject) => {
      const request = this.#factory.deleteDatabase(this.#name)
      request.onsuccess = () => resolve()
      request.onerror = () => reject(request.error ?? new Error('deleting IndexedDB failed'))
      request.onblocked = () => resolve()
    })
  }

  /** Closes the connection (tests, sign-out). */
  async close(): Promise<void> {
    if (this.#db !== null) {
      const db = await this.#db.catch(() => null)
      db?.close()
      this.#db = null
    }
  }
}
