import { type Accessor, createEffect, createSignal, on, onCleanup } from 'solid-js'
import * as chatsync from 'tauri-plugin-chatsync-api'
import type {
  ChatMessage,
  SeqRange,
  SyncEvent,
  SyncState,
  SyncSubscription
} from 'tauri-plugin-chatsync-api'
import { messageCacheBridge } from '../lib/message-cache-bridge'
import { applyMessageChanges } from '../lib/messages'

/** What {@link useChatSync} returns: the seed's five members plus history paging and sending. */
export interface ChatSync {
  /** The chat's sync state as the core reports it. */
  syncState: Accessor<SyncState>
  /** True only while a resync does network work (drives the spinner). */
  isSyncing: Accessor<boolean>
  /** Always resyncs (the header button); resolves when the run ends. Never rejects. */
  manualResync: () => Promise<void>
  /** The messages to show, in display order. */
  cachedMessages: Accessor<ChatMessage[]>
  /** Re-reads the messages from the cache (through the migration bridge). */
  refreshCachedMessages: () => Promise<void>
  /** Recorded history gaps: "load earlier" is offered while there are any. */
  historyGaps: Accessor<SeqRange[]>
  /** True while a "load earlier" page is being fetched. */
  loadingEarlier: Accessor<boolean>
  /** Fetches one page of earlier messages. Never rejects. */
  loadEarlier: () => Promise<void>
  /** Queues a message (shown as pending at once). Rejects on invalid input. */
  send: (content: string) => Promise<void>
  /** Retries a failed outgoing message. Never rejects. */
  retry: (clientTempId: string) => Promise<void>
  /** The last error reported for this chat, or null. */
  error: Accessor<string | null>
  /** True once the cached messages of the current chat were loaded. */
  loaded: Accessor<boolean>
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * Binds a component to one chat of the core (the seed's `useChatSync`): opens the
 * chat (cached messages at once, no network wait), subscribes to its changes
 * through one channel, and on `requestId` change or unmount unsubscribes and
 * closes the chat. `null` means no chat.
 */
export function useChatSync(requestId: Accessor<string | null>): ChatSync {
  const [syncState, setSyncState] = createSignal<SyncState>('UNKNOWN')
  const [isSyncing, setIsSyncing] = createSignal(false)
  const [cachedMessages, setCachedMessages] = createSignal<ChatMessage[]>([])
  const [historyGaps, setHistoryGaps] = createSignal<SeqRange[]>([])
  const [loadingEarlier, setLoadingEarlier] = createSignal(false)
  const [error, setError] = createSignal<string | null>(null)
  const [loaded, setLoaded] = createSignal(false)
  const bridge = messageCacheBridge()

  createEffect(
    on(requestId, (id) => {
      setSyncState('UNKNOWN')
      setIsSyncing(false)
      setCachedMessages([])
      setHistoryGaps([])
      setLoadingEarlier(false)
      setError(null)
      setLoaded(false)
      if (id === null) return

      let active = true
      let opened = false
      let stateReported = false
      let syncingReported = false
      // Message changes that arrive before the opened snapshot are replayed on it.
      const early: Extract<SyncEvent, { type: 'messagesChanged' }>[] = []

      const refreshGaps = () => {
        void chatsync
          .historyGaps(id)
          .then((gaps) => {
            if (active) setHistoryGaps(gaps)
          })
          .catch(() => undefined)
      }

      const applyChanges = (change: Extract<SyncEvent, { type: 'messagesChanged' }>) => {
        setCachedMessages((current) =>
          applyMessageChanges(current, [...change.inserted, ...change.updated], change.removedIds)
        )
        void bridge.recordChanges(id, [...change.inserted, ...change.updated], change.removedIds)
      }

      const onEvent = (event: SyncEvent) => {
        if (!active) return
        switch (event.type) {
          case 'syncStateChanged':
            stateReported = true
            setSyncState(event.state)
            break
          case 'syncingChanged':
            syncingReported = true
            setIsSyncing(event.syncing)
            // A finished resync may have recorded a new history gap (a huge gap
            // fetched as the latest window only).
            if (!event.syncing && opened) refreshGaps()
            break
          case 'messagesChanged':
            if (opened) applyChanges(event)
            else early.push(event)
            break
          case 'loadEarlierFinished':
            refreshGaps()
            break
          case 'error':
            setError(event.message)
            break
          case 'ticketsChanged':
          case 'connectionChanged':
            break
        }
      }

      const subscription: Promise<SyncSubscription | null> = chatsync
        .subscribe(onEvent, id)
        .catch((failure: unknown) => {
          if (active) setError(message(failure))
          return null
        })

      void subscription
        .then(() => chatsync.openChat(id))
        .then(async (chat) => {
          const messages = await bridge.readMessages(id, chat.messages)
          if (!active) return
          if (!stateReported) setSyncState(chat.meta.syncState)
          if (!syncingReported) setIsSyncing(chat.isSyncing)
          setHistoryGaps(chat.historyGaps)
          setCachedMessages(applyMessageChanges([], messages))
          opened = true
          for (const change of early.splice(0)) applyChanges(change)
          setLoaded(true)
        })
        .catch((failure: unknown) => {
          if (active) {
            setError(message(failure))
            setLoaded(true)
          }
        })

      onCleanup(() => {
        active = false
        void subscription.then((live) => live?.unsubscribe()).catch(() => undefined)
        void chatsync.closeChat(id).catch(() => undefined)
      })
    })
  )

  const manualResync = async () => {
    const id = requestId()
    if (id === null) return
    try {
      await chatsync.manualResync(id)
      if (requestId() === id) setError(null)
    } catch (failure) {
      if (requestId() === id) setError(message(failure))
    }
  }

  const refreshCachedMessages = async () => {
    const id = requestId()
    if (id === null) return
    try {
      const messages = await bridge.readMessages(id)
      if (requestId() === id) setCachedMessages(applyMessageChanges([], messages))
    } catch (failure) {
      if (requestId() === id) setError(message(failure))
    }
  }

  const loadEarlier = async () => {
    const id = requestId()
    if (id === null || loadingEarlier()) return
    setLoadingEarlier(true)
    try {
      const outcome = await chatsync.loadEarlier(id)
      if (requestId() !== id) return
      setCachedMessages((current) => applyMessageChanges(current, outcome.loaded))
      setHistoryGaps(outcome.remainingGaps)
      void bridge.recordChanges(id, outcome.loaded)
    } catch (failure) {
      if (requestId() === id) setError(message(failure))
    } finally {
      if (requestId() === id) setLoadingEarlier(false)
    }
  }

  const send = async (content: string) => {
    const id = requestId()
    if (id === null) return
    const pending = await chatsync.sendMessage(id, content)
    if (requestId() !== id) return
    setCachedMessages((current) => applyMessageChanges(current, [pending]))
    void bridge.recordChanges(id, [pending])
  }

  const retry = async (clientTempId: string) => {
    const id = requestId()
    if (id === null) return
    setCachedMessages((current) =>
      current.map((m) =>
        m.clientTempId === clientTempId && m.status === 'failed'
          ? { ...m, status: 'pending' as const }
          : m
      )
    )
    try {
      await chatsync.retrySend(id, clientTempId)
    } catch (failure) {
      if (requestId() === id) setError(message(failure))
      await refreshCachedMessages()
    }
  }

  return {
    syncState,
    isSyncing,
    manualResync,
    cachedMessages,
    refreshCachedMessages,
    historyGaps,
    loadingEarlier,
    loadEarlier,
    send,
    retry,
    error,
    loaded
  }
}
