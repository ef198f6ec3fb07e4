import * as chatsync from 'tauri-plugin-chatsync-api'
import { setOnline } from './chat-sync-store'

/** The platform signals the core needs. */
export interface LifecycleSignals {
  appResumed(): Promise<void>
  connectivityChanged(online: boolean): Promise<void>
}

/**
 * Wires the webview's lifecycle to the core: `visibilitychange` to visible means
 * the app came back to the foreground (`app_resumed`), `online` / `offline` are
 * connectivity changes. Reports the current connectivity once. Returns the
 * function that removes the listeners.
 *
 * On Android and iOS the webview's `visibilitychange` follows the activity /
 * scene, which is what the core needs; see tauri-mobile/README.md for the gap.
 */
export function wireLifecycle(
  signals: LifecycleSignals = chatsync,
  win: Window = window,
  doc: Document = document
): () => void {
  const report = (promise: Promise<void>) =>
    promise.catch((error: unknown) => console.warn('chatsync lifecycle signal failed:', error))
  const onVisibility = () => {
    if (doc.visibilityState === 'visible') void report(signals.appResumed())
  }
  const onOnline = () => {
    setOnline(true)
    void report(signals.connectivityChanged(true))
  }
  const onOffline = () => {
    setOnline(false)
    void report(signals.connectivityChanged(false))
  }
  doc.addEventListener('visibilitychange', onVisibility)
  win.addEventListener('online', onOnline)
  win.addEventListener('offline', onOffline)
  if (!win.navigator.onLine) onOffline()
  return () => {
    doc.removeEventListener('visibilitychange', onVisibility)
    win.removeEventListener('online', onOnline)
    win.removeEventListener('offline', onOffline)
  }
}
