import { A, useParams } from '@solidjs/router'
import { createEffect, createSignal, For, type JSX, on, Show } from 'solid-js'
import type { ChatMessage } from 'tauri-plugin-chatsync-api'
import { RefreshCw } from '../components/icons'
import { SyncIndicator } from '../components/sync-indicator'
import { useChatSync } from '../hooks/use-chat-sync'
import { syncStore } from '../lib/chat-sync-store'
import { formatTime, isOwnMessage } from '../lib/messages'

function MessageBubble(props: {
  message: ChatMessage
  onRetry: (clientTempId: string) => void
}): JSX.Element {
  const own = () => isOwnMessage(props.message)
  return (
    <li
      class="message"
      classList={{
        own: own(),
        system: props.message.isSystemMessage,
        pending: props.message.status === 'pending',
        failed: props.message.status === 'failed'
      }}
      data-testid="message"
      data-message-id={props.message.id}
      data-status={props.message.status}
      data-seq={props.message.sequenceNumber ?? ''}
    >
      <Show when={!own() && !props.message.isSystemMessage && props.message.sender}>
        {(sender) => <div class="message-sender">{sender().fullName}</div>}
      </Show>
      <div class="message-content">{props.message.content}</div>
      <div class="message-meta">
        <Show when={props.message.status === 'pending'}>
          <span class="status-pending" data-testid="status-pending">
            Sending…
          </span>
        </Show>
        <Show when={props.message.status === 'failed'}>
          <span class="status-failed" data-testid="status-failed">
            Not sent
          </span>
          <Show when={props.message.clientTempId}>
            {(clientTempId) => (
              <button
                type="button"
                class="retry"
                data-testid="retry-send"
                onClick={() => props.onRetry(clientTempId())}
              >
                Retry
              </button>
            )}
          </Show>
        </Show>
        <Show when={props.message.status === 'sent'}>
          <time datetime={props.message.createdAt}>{formatTime(props.message.createdAt)}</time>
        </Show>
      </div>
    </li>
  )
}

/** The ticket chat page for a given id (the route reads it from the URL). */
export function TicketChat(props: { ticketId: string }): JSX.Element {
  const ticketId = () => props.ticketId
  const chat = useChatSync(ticketId)
  const [draft, setDraft] = createSignal('')
  const [sendError, setSendError] = createSignal<string | null>(null)
  let list: HTMLOListElement | undefined

  const title = () => syncStore.tickets.find((t) => t.id === ticketId())?.title ?? 'Chat'

  // Keep the newest message in view as messages arrive.
  createEffect(
    on(
      () => chat.cachedMessages().length,
      () => {
        if (list) list.scrollTop = list.scrollHeight
      }
    )
  )

  const submit = async (event: Event) => {
    event.preventDefault()
    const content = draft().trim()
    if (content === '') return
    setSendError(null)
    try {
      await chat.send(content)
      setDraft('')
    } catch (failure) {
      setSendError(failure instanceof Error ? failure.message : String(failure))
    }
  }

  return (
    <div class="page chat-page">
      <header class="app-header chat-header">
        <A href="/" class="back" aria-label="Back to tickets">
          ‹
        </A>
        <div class="chat-title">
          <h1 data-testid="chat-title">{title()}</h1>
          <SyncIndicator requestId={ticketId()} />
        </div>
        <button
          type="button"
          class="icon-button"
          title="Resync messages"
          aria-label="Resync messages"
          data-testid="resync-button"
          disabled={chat.isSyncing()}
          onClick={() => void chat.manualResync()}
        >
          <Show when={chat.isSyncing()} fallback={<RefreshCw />}>
            <RefreshCw class="animate-spin" />
          </Show>
        </button>
      </header>
      <Show when={!syncStore.online}>
        <div class="banner offline" role="status">
          Offline — messages will be sent when you are back online
        </div>
      </Show>
      <Show when={chat.error()}>
        <div class="banner error" role="alert" data-testid="chat-error">
          {chat.error()}
        </div>
      </Show>
      <ol class="messages" ref={list} data-testid="messages" data-sync-state={chat.syncState()}>
        <Show when={chat.historyGaps().length > 0}>
          <li class="load-earlier">
            <button
              type="button"
              class="text-button"
              data-testid="load-earlier"
              disabled={chat.loadingEarlier()}
              onClick={() => void chat.loadEarlier()}
            >
              {chat.loadingEarlier() ? 'Loading…' : 'Load earlier messages'}
            </button>
          </li>
        </Show>
        <Show when={chat.loaded() && chat.cachedMessages().length === 0}>
          <li class="empty muted">No messages yet. Say hello!</li>
        </Show>
        <For each={chat.cachedMessages()}>
          {(message) => <MessageBubble message={message} onRetry={(id) => void chat.retry(id)} />}
        </For>
      </ol>
      <form class="composer" onSubmit={submit}>
        <textarea
          name="message"
          rows="1"
          placeholder="Write a message…"
          aria-label="Message"
          data-testid="composer-input"
          value={draft()}
          onInput={(e) => setDraft(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) void submit(e)
          }}
        />
        <button
          type="submit"
          class="primary"
          data-testid="composer-send"
          disabled={draft().trim() === ''}
        >
          Send
        </button>
      </form>
      <Show when={sendError()}>
        <p class="error composer-error" role="alert">
          {sendError()}
        </p>
      </Show>
    </div>
  )
}

/** The `/tickets/:id` route. */
export function TicketChatRoute(): JSX.Element {
  const params = useParams<{ id: string }>()
  return (
    <Show when={params.id} keyed>
      {(id) => <TicketChat ticketId={decodeURIComponent(id)} />}
    </Show>
  )
}
