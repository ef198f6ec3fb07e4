/**
 * A scripted stand-in for the plugin's Rust side, installed with `mockIPC`
 * (the Vitest layer tests the webview code only; the real plugin and core are
 * exercised by the plugin's Rust tests and the desktop E2E run). It records every
 * command and delivers channel messages the way Tauri does (indexed frames).
 */
import { mockIPC } from '@tauri-apps/api/mocks'
import type {
  ChatMessage,
  ChatSyncMeta,
  OpenedChat,
  SeqRange,
  SyncEvent,
  SyncState,
  Ticket
} from 'tauri-plugin-chatsync-api'

interface ChannelLike {
  id: number
}

interface FakeSubscription {
  id: number
  requestId: string | null
  channel: ChannelLike
  nextIndex: number
}

/** One recorded IPC call. */
export interface RecordedCall {
  command: string
  args: Record<string, unknown>
}

type Handler = (args: Record<string, unknown>) => unknown

/** Builds a server message. */
export function serverMessage(
  requestId: string,
  seq: number,
  content: string,
  technician = true
): ChatMessage {
  return {
    id: `m-${requestId}-${seq}`,
    requestId,
    senderId: technician ? 'tech-1' : 'user-1',
    sender: technician
      ? { id: 'tech-1', fullName: 'Tess Tech', isTechnician: true }
      : { id: 'user-1', fullName: 'Rita Requester', isTechnician: false },
    content,
    sequenceNumber: seq,
    isScreenshot: false,
    screenshotFileName: null,
    isReadByCurrentUser: true,
    createdAt: new Date(Date.UTC(2025, 0, 1, 9, seq)).toISOString(),
    updatedAt: null,
    status: 'sent',
    tempId: null,
    clientTempId: null,
    isSystemMessage: false,
    fileName: null,
    fileSize: null,
    fileMimeType: null,
    cachedAt: 1
  }
}

/** Builds a local outgoing message. */
export function outgoingMessage(
  requestId: string,
  clientTempId: string,
  content: string,
  status: 'pending' | 'failed' = 'pending'
): ChatMessage {
  return {
    ...serverMessage(requestId, 1, content, false),
    id: `local:${clientTempId}`,
    sequenceNumber: null,
    status,
    clientTempId,
    createdAt: new Date(Date.UTC(2025, 0, 2)).toISOString()
  }
}

/** Builds a ticket row. */
export function ticket(id: string, title: string, overrides: Partial<Ticket> = {}): Ticket {
  return {
    id,
    title,
    status: 'open',
    unreadCount: 0,
    updatedAt: new Date(Date.UTC(2025, 0, 1, 10)).toISOString(),
    lastMessage: null,
    lastMessageSequence: 0,
    syncState: 'UNKNOWN',
    isSyncing: false,
    ...overrides
  }
}

/** Builds chat meta. */
export function meta(requestId: string, syncState: SyncState = 'SYNCED'): ChatSyncMeta {
  return {
    requestId,
    localMinSeq: null,
    localMaxSeq: null,
    lastKnownBackendSeq: null,
    syncState,
    lastValidatedAt: 0,
    messageCount: 0
  }
}

/** The fake plugin. Override any command with `on(command, handler)`. */
export class FakeCore {
  readonly calls: RecordedCall[] = []
  tickets: Ticket[] = []
  messages = new Map<string, ChatMessage[]>()
  gaps = new Map<string, SeqRange[]>()
  states = new Map<string, SyncState>()
  readonly #subscriptions = new Map<number, FakeSubscription>()
  readonly #handlers = new Map<string, Handler>()
  #nextSubscription = 1

  /** Installs this fake as the IPC handler. */
  install(): this {
    mockIPC((command, args) => this.#dispatch(command, (args ?? {}) as Record<string, unknown>))
    return this
  }

  /** Replaces the behaviour of one command (name without the `plugin:chatsync|` prefix). */
  on(command: string, handler: Handler): this {
    this.#handlers.set(command, handler)
    return this
  }

  /** The recorded calls of one command. */
  callsOf(command: string): RecordedCall[] {
    return this.calls.filter((call) => call.command === command)
  }

  /** Live subscriptions (after unsubscribe they are gone). */
  get subscriptionCount(): number {
    return this.#subscriptions.size
  }

  /** Delivers `event` to every matching subscription, as indexed channel frames. */
  emit(event: SyncEvent): void {
    const chat = 'requestId' in event ? event.requestId : null
    for (const subscription of this.#subscriptions.values()) {
      if (subscription.requestId !== null && chat !== subscription.requestId) continue
      const index = subscription.nextIndex++
      window.__TAURI_INTERNALS__.runCallback(subscription.channel.id, { index, message: event })
    }
  }

  #dispatch(command: string, args: Record<string, unknown>): unknown {
    const name = command.replace(/^plugin:chatsync\|/, '')
    this.calls.push({ command: name, args })
    const override = this.#handlers.get(name)
    if (override) return override(args)
    const requestId = args.requestId as string
    switch (name) {
      case 'sign_in':
        return { serverUrl: args.serverUrl, cachePath: '/tmp/fake.sqlite' }
      case 'sign_out':
      case 'close_chat':
      case 'connectivity_changed':
      case 'app_resumed':
      case 'retry_send':
        return null
      case 'cached_tickets':
      case 'refresh_tickets':
        return this.tickets
      case 'open_chat': {
        const opened: OpenedChat = {
          messages: this.messages.get(requestId) ?? [],
          meta: meta(requestId, this.states.get(requestId) ?? 'UNKNOWN'),
          historyGaps: this.gaps.get(requestId) ?? [],
          isSyncing: false
        }
        return opened
      }
      case 'get_cached_messages':
        return this.messages.get(requestId) ?? []
      case 'history_gaps':
        return this.gaps.get(requestId) ?? []
      case 'resync':
      case 'manual_resync':
        return meta(requestId)
      case 'load_earlier':
        return { loaded: [], remainingGaps: [] }
      case 'send_message':
        return outgoingMessage(requestId, `tmp-${this.calls.length}`, args.content as string)
      case 'import_legacy_messages': {
        const messages = args.messages as ChatMessage[]
        const imported = messages.filter((m) => m.sequenceNumber !== null).length
        return { imported, skipped: messages.length - imported, rejected: 0, errors: [] }
      }
      case 'subscribe': {
        const id = this.#nextSubscription++
        this.#subscriptions.set(id, {
          id,
          requestId: (args.requestId as string | null) ?? null,
          channel: args.channel as ChannelLike,
          nextIndex: 0
        })
        return id
      }
      case 'unsubscribe':
        this.#subscriptions.delete(args.id as number)
        return null
      default:
        throw { kind: 'invalidArgument', message: `fake core: unknown command ${command}` }
    }
  }
}

declare global {
  interface Window {
    __TAURI_INTERNALS__: {
      runCallback(id: number, data: unknown): void
    }
  }
}
