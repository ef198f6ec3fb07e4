/** Build-time and user-tunable settings of the requester app. */

/** Which cache the UI reads during the IndexedDB -> SQLite migration (the seed's bridge phases). */
export type CachePhase = 1 | 2 | 3

/** Phase 2 (write both, read SQLite) is the default, as in the seed. */
export const DEFAULT_CACHE_PHASE: CachePhase = 2

/** Where `chatsync serve` listens in development. */
export const DEFAULT_SERVER_URL: string =
  (import.meta.env.VITE_CHATSYNC_SERVER_URL as string | undefined) ?? 'http://127.0.0.1:8787'

/** The development token (empty in production builds unless configured). */
export const DEFAULT_TOKEN: string =
  (import.meta.env.VITE_CHATSYNC_TOKEN as string | undefined) ??
  (import.meta.env.DEV ? 'dev-token' : '')

const PHASE_KEY = 'chatsync.cachePhase'

/** Parses a phase setting; anything but 1, 2 or 3 is `null`. */
export function parseCachePhase(value: unknown): CachePhase | null {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : ''
  return text.trim() === '1' ? 1 : text.trim() === '2' ? 2 : text.trim() === '3' ? 3 : null
}

/**
 * The active phase: `localStorage['chatsync.cachePhase']` (set by support or a
 * staged rollout), else the `VITE_CHATSYNC_CACHE_PHASE` build setting, else 2.
 */
export function configuredCachePhase(
  storage: Pick<Storage, 'getItem'> | null = safeStorage()
): CachePhase {
  return (
    parseCachePhase(storage?.getItem(PHASE_KEY)) ??
    parseCachePhase(import.meta.env.VITE_CHATSYNC_CACHE_PHASE) ??
    DEFAULT_CACHE_PHASE
  )
}

/** Persists the phase for the next start. */
export function storeCachePhase(
  phase: CachePhase,
  storage: Pick<Storage, 'setItem'> | null = safeStorage()
): void {
  storage?.setItem(PHASE_KEY, String(phase))
}

function safeStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage
  } catch {
    return null
  }
}
