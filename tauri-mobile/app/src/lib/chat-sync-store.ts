import { createStore, reconcile } from 'solid-js/store'
import * as chatsync from 'tauri-plugin-chatsync-api'
import type { SyncEvent, SyncState, SyncSubscription, Ticket } from 'tauri-plugin-chatsync-api'

/** Live state of one chat as the core last reported it. */
export interface ChatStatus {
  syncState: SyncState
  isSyncing: boolean
}

/** The app-wide view of the core, fed by one all-chats subscription. */
export interface SyncStoreState {
  tickets: Ticket[]
  ticketsLoaded: boolean
  refreshing: boolean
  chats: Record<string, ChatStatus>
  online: boolean
  realtimeConnected: boolean
  lastError: string | null
}

function initialState(): SyncStoreState {
  return {
    tickets: [],
    ticketsLoaded: false,
    refreshing: false,
    chats: {},
    online: typeof navigator === 'undefined' ? true : navigator.onLine,
    realtimeConnected: false,
    lastError: null
  }
}

const [state, setState] = createStore<SyncStoreState>(initialState())
let subscription: Promise<SyncSubscription> | null = null

/** The store (read-only; reactive). */
export const syncStore: Readonly<SyncStoreState> = state

function applyEvent(event: SyncEvent): void {
  switch (event.type) {
    case 'syncStateChanged':
      setState('chats', event.requestId, (chat) => ({
        isSyncing: chat?.isSyncing ?? ticketOf(event.requestId)?.isSyncing ?? false,
        syncState: event.state
      }))
      break
    case 'syncingChanged':
      setState('chats', event.requestId, (chat) => ({
        syncState: chat?.syncState ?? ticketOf(event.requestId)?.syncState ?? 'UNKNOWN',
        isSyncing: event.syncing
      }))
      break
    case 'ticketsChanged':
      setTickets(event.tickets)
      break
    case 'connectionChanged':
      setState({ online: event.online, realtimeConnected: event.realtimeConnected })
      break
    case 'error':
      setState('lastError', event.message)
      break
    case 'messagesChanged':
    case 'loadEarlierFinished':
      break
  }
}

function setTickets(tickets: Ticket[]): void {
  setState('tickets', reconcile(tickets, { key: 'id' }))
  setState('ticketsLoaded', true)
}

// The subscription's events are authoritative (a new subscription starts with a
// snapshot of every known chat); a ticket row's own fields only fill in for chats
// no event has mentioned yet, so an older list never overwrites a newer event.
function ticketOf(requestId: string): Ticket | undefined {
  return state.tickets.find((t) => t.id === requestId)
}

/** Subscribes to every chat's state changes (after sign-in). Idempotent. */
export async function startSyncStore(): Promise<void> {
  subscription ??= chatsync.subscribe(applyEvent, null)
  try {
    await subscription
  } catch (error) {
    subscription = null
    setState('lastError', String(error))
    throw error
  }
}

/** Drops the subscription and forgets all state (sign-out, tests). */
export async function stopSyncStore(): Promise<void> {
  const current = subscription
  subscription = null
  setState(reconcile(initialState()))
  if (current !== null) {
    const live = await current.catch(() => null)
    await live?.unsubscribe().catch(() => undefined)
  }
}

/** Loads the cached ticket list (no network), then refreshes its metadata. */
export async function loadTickets(): Promise<void> {
  try {
    setTickets(await chatsync.cachedTickets())
  } catch (error) {
    setState('lastError', String(error))
  }
  await refreshTicketList()
}

/** Refreshes the ticket list: metadata only (`lastMessageSequence`), never messages. */
export async function refreshTicketList(): Promise<void> {
  setState('refreshing', true)
  try {
    setTickets(await chatsync.refreshTickets())
    setState('lastError', null)
  } catch (error) {
    setState('lastError', error instanceof Error ? error.message : String(error))
  } finally {
    setState('refreshing', false)
  }
}

/** True while a resync of the chat does network work (the seed's `isChatSyncing`). */
export function isChatSyncing(requestId: string): boolean {
  return state.chats[requestId]?.isSyncing ?? ticketOf(requestId)?.isSyncing ?? false
}

/** The chat's last reported sync state (`UNKNOWN` before any report). */
export function chatSyncState(requestId: string): SyncState {
  return state.chats[requestId]?.syncState ?? ticketOf(requestId)?.syncState ?? 'UNKNOWN'
}

/** Records a connectivity change reported by the platform. */
export function setOnline(online: boolean): void {
  setState('online', online)
}
