import { A } from '@solidjs/router'
import { For, type JSX, onMount, Show } from 'solid-js'
import type { SyncState, Ticket } from 'tauri-plugin-chatsync-api'
import { RefreshCw } from '../components/icons'
import { SyncIndicatorCompact } from '../components/sync-indicator'
import { chatSyncState, loadTickets, refreshTicketList, syncStore } from '../lib/chat-sync-store'
import { formatTime } from '../lib/messages'

const STATE_LABEL: Record<SyncState, string | null> = {
  // Not validated yet is not an error: nothing is shown.
  UNKNOWN: null,
  // No permanent "synced" badge either.
  SYNCED: null,
  OUT_OF_SYNC: 'Updates pending'
}

function TicketRow(props: { ticket: Ticket }): JSX.Element {
  const state = () => chatSyncState(props.ticket.id)
  return (
    <li>
      <A
        href={`/tickets/${encodeURIComponent(props.ticket.id)}`}
        class="ticket-row"
        data-testid="ticket-row"
        data-ticket-id={props.ticket.id}
        data-sync-state={state()}
      >
        <div class="ticket-main">
          <div class="ticket-title-line">
            <span class="ticket-title">{props.ticket.title}</span>
            <SyncIndicatorCompact requestId={props.ticket.id} />
            <Show when={STATE_LABEL[state()]}>
              {(label) => <span class="sync-state-chip">{label()}</span>}
            </Show>
          </div>
          <div class="ticket-last" data-testid="ticket-last-message">
            <Show
              when={props.ticket.lastMessage}
              fallback={<span class="muted">No messages yet</span>}
            >
              {(last) => (
                <>
                  <Show when={last().senderName}>
                    <span class="sender">{last().senderName}: </span>
                  </Show>
                  {last().content}
                </>
              )}
            </Show>
          </div>
        </div>
        <div class="ticket-side">
          <span class="ticket-time">{formatTime(props.ticket.updatedAt)}</span>
          <Show when={props.ticket.unreadCount > 0}>
            <span
              class="unread"
              aria-label={`${props.ticket.unreadCount} unread`}
              data-testid="unread-count"
            >
              {props.ticket.unreadCount}
            </span>
          </Show>
        </div>
      </A>
    </li>
  )
}

/**
 * The tickets page: the cached list at once, then one metadata refresh (the
 * seed's tickets query: `lastMessageSequence` per chat, never messages).
 */
export function TicketsPage(props: { onSignOut?: () => void }): JSX.Element {
  onMount(() => void loadTickets())
  return (
    <div class="page">
      <header class="app-header">
        <h1>Tickets</h1>
        <div class="header-actions">
          <button
            type="button"
            class="icon-button"
            title="Refresh tickets"
            aria-label="Refresh tickets"
            data-testid="refresh-tickets"
            disabled={syncStore.refreshing}
            onClick={() => void refreshTicketList()}
          >
            <RefreshCw class={syncStore.refreshing ? 'animate-spin' : undefined} />
          </button>
          <Show when={props.onSignOut}>
            {(signOut) => (
              <button type="button" class="text-button" onClick={() => signOut()()}>
                Sign out
              </button>
            )}
          </Show>
        </div>
      </header>
      <Show when={!syncStore.online}>
        <div class="banner offline" role="status">
          Offline — showing cached tickets
        </div>
      </Show>
      <Show when={syncStore.lastError}>
        <div class="banner error" role="alert">
          {syncStore.lastError}
        </div>
      </Show>
      <Show
        when={syncStore.tickets.length > 0}
        fallback={
          <p class="empty muted" data-testid="tickets-empty">
            {syncStore.ticketsLoaded ? 'No tickets yet.' : 'Loading tickets…'}
          </p>
        }
      >
        <ul class="ticket-list" data-testid="ticket-list">
          <For each={syncStore.tickets}>{(ticket) => <TicketRow ticket={ticket} />}</For>
        </ul>
      </Show>
    </div>
  )
}
