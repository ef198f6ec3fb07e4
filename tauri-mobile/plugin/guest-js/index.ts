/**
 * Typed JavaScript API of `tauri-plugin-chatsync`: the chatsync Rust core
 * (SQLite cache, sequence validation, sync engine, REST + WebSocket driver)
 * running inside the Tauri app. The webview never runs SQL and holds no sync
 * logic: it calls these commands and listens to one {@link Channel} per
 * subscription.
 *
 * Every function rejects with a {@link ChatSyncError} (never a bare string).
 */
import { Channel, invoke } from '@tauri-apps/api/core'

/** The seed's per-chat sync state. `UNKNOWN` is the default and not an error. */
export type SyncState = 'UNKNOWN' | 'SYNCED' | 'OUT_OF_SYNC'

/** Delivery status of a message as the local user sees it. */
export type MessageStatus = 'pending' | 'sent' | 'failed'

/** Why a command failed (mirrors the core's `ErrorKind`). */
export type ErrorKind =
  | 'network'
  | 'timeout'
  | 'server'
  | 'unauthorized'
  | 'badData'
  | 'notFound'
  | 'rejected'
  | 'cache'
  | 'invalidArgument'
  | 'signedOut'

/** The author of a message. */
export interface Sender {
  id: string
  fullName: string
  isTechnician: boolean
}

/** One chat message. `sequenceNumber` is null only for local outgoing messages. */
export interface ChatMessage {
  id: string
  requestId: string
  senderId: string | null
  sender: Sender | null
  content: string
  sequenceNumber: number | null
  isScreenshot: boolean
  screenshotFileName: string | null
  isReadByCurrentUser: boolean
  /** RFC 3339 UTC. */
  createdAt: string
  updatedAt: string | null
  status: MessageStatus
  tempId: string | null
  clientTempId: string | null
  isSystemMessage: boolean
  fileName: string | null
  fileSize: number | null
  fileMimeType: string | null
  /** When the row was written to the cache, ms since the epoch. */
  cachedAt: number
}

/** The newest message of a ticket, as the ticket list shows it. */
export interface LastMessageInfo {
  content: string
  senderName: string | null
  createdAt: string
  sequenceNumber: number
}

/** One ticket of the ticket list (metadata only) with its chat's current sync state. */
export interface Ticket {
  id: string
  title: string
  status: string
  unreadCount: number
  updatedAt: string
  lastMessage: LastMessageInfo | null
  /** Highest sequence of the chat on the backend; null when the backend cannot say. */
  lastMessageSequence: number | null
  syncState: SyncState
  isSyncing: boolean
}

/** The seed's `ChatSyncMeta`. */
export interface ChatSyncMeta {
  requestId: string
  localMinSeq: number | null
  localMaxSeq: number | null
  lastKnownBackendSeq: number | null
  syncState: SyncState
  lastValidatedAt: number
  messageCount: number
}

/** An inclusive range of sequence numbers. */
export interface SeqRange {
  start: number
  end: number
}

/** What `openChat` returns at once, from the cache, before any network work. */
export interface OpenedChat {
  messages: ChatMessage[]
  meta: ChatSyncMeta
  /** Recorded holes below the newest window: "load earlier" fills them. */
  historyGaps: SeqRange[]
  isSyncing: boolean
}

/** The result of one "load earlier" page. */
export interface LoadEarlierOutcome {
  loaded: ChatMessage[]
  remainingGaps: SeqRange[]
}

/** The result of importing legacy (IndexedDB) messages into the core's cache. */
export interface ImportReport {
  /** Messages handed to the core and accepted. */
  imported: number
  /** Local-only messages (no sequence number): not server data, not imported. */
  skipped: number
  /** Messages the core refused (invalid data); see `errors`. */
  rejected: number
  /** The first few rejection reasons. */
  errors: string[]
}

/** What the active session is connected to. */
export interface SessionInfo {
  serverUrl: string
  cachePath: string
}

/** A state change, delivered in order through a subscription's channel. */
export type SyncEvent =
  | { type: 'syncStateChanged'; requestId: string; state: SyncState }
  | { type: 'syncingChanged'; requestId: string; syncing: boolean }
  | {
      type: 'messagesChanged'
      requestId: string
      inserted: ChatMessage[]
      updated: ChatMessage[]
      removedIds: string[]
    }
  | { type: 'ticketsChanged'; tickets: Ticket[] }
  | { type: 'loadEarlierFinished'; requestId: string; ok: boolean }
  | { type: 'connectionChanged'; online: boolean; realtimeConnected: boolean }
  | {
      type: 'error'
      requestId: string | null
      kind: ErrorKind
      message: string
    }

/** The error every command rejects with. */
export class ChatSyncError extends Error {
  /** Machine-readable reason. */
  readonly kind: ErrorKind

  constructor(kind: ErrorKind, message: string) {
    super(message)
    this.name = 'ChatSyncError'
    this.kind = kind
  }
}

const KINDS: readonly ErrorKind[] = [
  'network',
  'timeout',
  'server',
  'unauthorized',
  'badData',
  'notFound',
  'rejected',
  'cache',
  'invalidArgument',
  'signedOut'
]

/** Turns whatever `invoke` rejected with into a {@link ChatSyncError}. */
export function toChatSyncError(raw: unknown): ChatSyncError {
  if (raw instanceof ChatSyncError) return raw
  if (typeof raw === 'object' && raw !== null) {
    const { kind, message } = raw as { kind?: unknown; message?: unknown }
    if (
      typeof kind === 'string' &&
      (KINDS as readonly string[]).includes(kind) &&
      typeof message === 'string'
    ) {
      return new ChatSyncError(kind as ErrorKind, message)
    }
  }
  const text =
    raw instanceof Error ? raw.message : typeof raw === 'string' ? raw : JSON.stringify(raw)
  return new ChatSyncError('invalidArgument', text ?? 'unknown error')
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(`plugin:chatsync|${command}`, args)
  } catch (raw) {
    throw toChatSyncError(raw)
  }
}

/**
 * Signs in: creates the core client for `serverUrl` (cache file in the app data
 * dir, one per server) and starts it. Replaces a previous session.
 */
export function signIn(serverUrl: string, token: string): Promise<SessionInfo> {
  return call('sign_in', { serverUrl, token })
}

/** Signs out: stops all network work and clears the cache. Idempotent. */
export function signOut(): Promise<void> {
  return call('sign_out')
}

/** The ticket list as cached (no network). */
export function cachedTickets(): Promise<Ticket[]> {
  return call('cached_tickets')
}

/** Fetches the ticket list: metadata only, never messages. */
export function refreshTickets(): Promise<Ticket[]> {
  return call('refresh_tickets')
}

/** Opens a chat: returns the cached messages at once; validation and a resync (if due) follow. */
export function openChat(requestId: string): Promise<OpenedChat> {
  return call('open_chat', { requestId })
}

/** Closes a chat: it stops fetching; its state stays cached. */
export function closeChat(requestId: string): Promise<void> {
  return call('close_chat', { requestId })
}

/** The cached messages of a chat, oldest first (optionally only the newest `limit`). */
export function getCachedMessages(requestId: string, limit?: number): Promise<ChatMessage[]> {
  return call('get_cached_messages', { requestId, limit: limit ?? null })
}

/** The chat's recorded history gaps (holes below the newest window), ascending. */
export function historyGaps(requestId: string): Promise<SeqRange[]> {
  return call('history_gaps', { requestId })
}

/** Resyncs the chat if it is OUT_OF_SYNC (a no-op otherwise); resolves when the run ends. */
export function resync(requestId: string): Promise<ChatSyncMeta> {
  return call('resync', { requestId })
}

/** Always resyncs the chat (the header button); resolves when the run ends. */
export function manualResync(requestId: string): Promise<ChatSyncMeta> {
  return call('manual_resync', { requestId })
}

/** Fetches one page of older messages into the newest recorded history gap. */
export function loadEarlier(requestId: string): Promise<LoadEarlierOutcome> {
  return call('load_earlier', { requestId })
}

/** Queues a message durably and returns it as `pending`; delivery continues in the core. */
export function sendMessage(requestId: string, content: string): Promise<ChatMessage> {
  return call('send_message', { requestId, content })
}

/** Retries delivery of a failed outgoing message. */
export function retrySend(requestId: string, clientTempId: string): Promise<void> {
  return call('retry_send', { requestId, clientTempId })
}

/** Reports the platform's connectivity (the webview's `online` / `offline`). */
export function connectivityChanged(online: boolean): Promise<void> {
  return call('connectivity_changed', { online })
}

/** Reports that the app came back to the foreground (revalidates metadata). */
export function appResumed(): Promise<void> {
  return call('app_resumed')
}

/** Imports messages of the legacy IndexedDB cache into the core's SQLite cache. */
export function importLegacyMessages(messages: ChatMessage[]): Promise<ImportReport> {
  return call('import_legacy_messages', { messages })
}

/** A live subscription; call `unsubscribe()` when done (it drops the core's subscription). */
export interface SyncSubscription {
  /** The plugin's id of this subscription. */
  readonly id: number
  /** Stops delivery. Safe to call more than once. */
  unsubscribe(): Promise<void>
}

/**
 * Subscribes to the core's state changes for one chat (`requestId`) or every chat
 * (`null`). The handler first receives the current sync state and syncing flag
 * (the snapshot), then every later change, in order.
 */
export async function subscribe(
  onEvent: (event: SyncEvent) => void,
  requestId: string | null = null
): Promise<SyncSubscription> {
  const channel = new Channel<SyncEvent>(onEvent)
  const id = await call<number>('subscribe', { requestId, channel })
  let active = true
  return {
    id,
    async unsubscribe() {
      if (!active) return
      active = false
      channel.onmessage = () => {}
      await call('unsubscribe', { id })
    }
  }
}
