import { type JSX, Show } from 'solid-js'
import { isChatSyncing } from '../lib/chat-sync-store'
import { Spinner } from './icons'

/**
 * "Syncing messages…" with a spinner, shown ONLY while a resync of the chat
 * does network work (the core's `isSyncing`). Never a permanent "synced" badge,
 * and nothing at all during validation-only checks.
 */
export function SyncIndicator(props: { requestId: string }): JSX.Element {
  return (
    <Show when={isChatSyncing(props.requestId)}>
      <div class="sync-indicator" role="status" aria-live="polite" data-testid="sync-indicator">
        <Spinner size={14} />
        <span>Syncing messages…</span>
      </div>
    </Show>
  )
}

/** The spinner alone (ticket rows, narrow headers), under the same rule as {@link SyncIndicator}. */
export function SyncIndicatorCompact(props: { requestId: string }): JSX.Element {
  return (
    <Show when={isChatSyncing(props.requestId)}>
      <span
        class="sync-indicator-compact"
        role="status"
        aria-label="Syncing messages"
        data-testid="sync-indicator-compact"
      >
        <Spinner size={12} />
      </span>
    </Show>
  )
}
