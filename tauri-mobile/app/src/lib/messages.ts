import type { ChatMessage } from 'tauri-plugin-chatsync-api'

/**
 * Display order of a chat: server messages by sequence number, then local
 * outgoing ones (no sequence yet) by creation time.
 */
export function compareMessages(a: ChatMessage, b: ChatMessage): number {
  if (a.sequenceNumber !== null && b.sequenceNumber !== null) {
    return a.sequenceNumber - b.sequenceNumber
  }
  if (a.sequenceNumber !== null) return -1
  if (b.sequenceNumber !== null) return 1
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1
}

/**
 * Applies a change set to a message list without mutating it: removes
 * `removedIds`, then upserts `inserted` and `updated` by id. A server message
 * carrying the `clientTempId` of a local outgoing message replaces that local
 * copy, so a delivered message never shows twice. Idempotent.
 */
export function applyMessageChanges(
  current: readonly ChatMessage[],
  upserts: readonly ChatMessage[],
  removedIds: readonly string[] = []
): ChatMessage[] {
  const removed = new Set(removedIds)
  const byId = new Map<string, ChatMessage>()
  for (const message of current) {
    if (!removed.has(message.id)) byId.set(message.id, message)
  }
  for (const message of upserts) {
    if (message.clientTempId !== null) {
      for (const [id, existing] of byId) {
        if (
          id !== message.id &&
          existing.clientTempId === message.clientTempId &&
          existing.sequenceNumber === null
        ) {
          byId.delete(id)
        }
      }
    }
    byId.set(message.id, message)
  }
  return [...byId.values()].sort(compareMessages)
}

/** True for the signed-in requester's own messages (the other party is the technician). */
export function isOwnMessage(message: ChatMessage): boolean {
  if (message.isSystemMessage) return false
  if (message.sequenceNumber === null) return true
  return message.sender !== null && !message.sender.isTechnician
}

/** A short local time for a message bubble, e.g. `14:05`; the raw text when unparsable. */
export function formatTime(rfc3339: string): string {
  const date = new Date(rfc3339)
  if (Number.isNaN(date.getTime())) return rfc3339
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
}
