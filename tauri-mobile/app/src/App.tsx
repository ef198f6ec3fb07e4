import { HashRouter, Route, type RouteSectionProps } from '@solidjs/router'
import { createSignal, type JSX, onCleanup, Show } from 'solid-js'
import * as chatsync from 'tauri-plugin-chatsync-api'
import { SignIn } from './components/sign-in'
import { startSyncStore, stopSyncStore } from './lib/chat-sync-store'
import { wireLifecycle } from './lib/lifecycle'
import { messageCacheBridge } from './lib/message-cache-bridge'
import { TicketChatRoute } from './routes/ticket-chat'
import { TicketsPage } from './routes/tickets'

/**
 * Signs in through the plugin, starts the app-wide subscription, and runs the
 * one-shot import of the legacy IndexedDB cache (its failure never blocks the app).
 */
export async function startSession(serverUrl: string, token: string): Promise<void> {
  const session = await chatsync.signIn(serverUrl, token)
  await startSyncStore()
  try {
    const report = await messageCacheBridge().importLegacyOnce(session.serverUrl)
    if (report !== null && (report.imported > 0 || report.rejected > 0)) {
      console.info('legacy cache import:', report)
    }
  } catch (error) {
    console.warn('legacy cache import failed; it will run again next start:', error)
  }
}

/** Signs out: stops the subscription, clears both caches. */
export async function endSession(): Promise<void> {
  await stopSyncStore()
  await chatsync.signOut()
  await messageCacheBridge().clear()
}

/** The requester app: sign-in, then the tickets page and the ticket chat route. */
export function App(): JSX.Element {
  const [signedIn, setSignedIn] = createSignal(false)

  const disposeLifecycle = wireLifecycle()
  onCleanup(disposeLifecycle)

  const signIn = async (serverUrl: string, token: string) => {
    await startSession(serverUrl, token)
    setSignedIn(true)
  }

  const signOut = async () => {
    try {
      await endSession()
    } finally {
      setSignedIn(false)
      window.location.hash = '#/'
    }
  }

  const Tickets = () => <TicketsPage onSignOut={() => void signOut()} />
  const Layout = (props: RouteSectionProps) => <div class="app">{props.children}</div>

  return (
    <Show when={signedIn()} fallback={<SignIn onSignIn={signIn} />}>
      <HashRouter root={Layout}>
        <Route path="/" component={Tickets} />
        <Route path="/tickets/:id" component={TicketChatRoute} />
      </HashRouter>
    </Show>
  )
}
