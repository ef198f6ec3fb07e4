import { createSignal, type JSX, Show } from 'solid-js'
import { DEFAULT_SERVER_URL, DEFAULT_TOKEN } from '../lib/config'

/** The sign-in form: server URL and access token (dev defaults point at `chatsync serve`). */
export function SignIn(props: {
  onSignIn: (serverUrl: string, token: string) => Promise<void>
}): JSX.Element {
  const [serverUrl, setServerUrl] = createSignal(DEFAULT_SERVER_URL)
  const [token, setToken] = createSignal(DEFAULT_TOKEN)
  const [busy, setBusy] = createSignal(false)
  const [error, setError] = createSignal<string | null>(null)

  const submit = async (event: SubmitEvent) => {
    event.preventDefault()
    const url = serverUrl().trim()
    if (!/^https?:\/\/[^\s/]+/.test(url)) {
      setError('Enter the server address, e.g. http://127.0.0.1:8787')
      return
    }
    if (token().trim() === '') {
      setError('Enter your access token')
      return
    }
    setBusy(true)
    setError(null)
    try {
      await props.onSignIn(url, token().trim())
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure))
    } finally {
      setBusy(false)
    }
  }

  return (
    <main class="sign-in">
      <form class="card" onSubmit={submit} aria-label="Sign in">
        <h1>Support chat</h1>
        <p class="muted">Sign in to see your tickets.</p>
        <label>
          Server
          <input
            name="serverUrl"
            type="url"
            autocomplete="url"
            value={serverUrl()}
            onInput={(e) => setServerUrl(e.currentTarget.value)}
          />
        </label>
        <label>
          Access token
          <input
            name="token"
            type="password"
            autocomplete="current-password"
            value={token()}
            onInput={(e) => setToken(e.currentTarget.value)}
          />
        </label>
        <Show when={error()}>
          <p class="error" role="alert">
            {error()}
          </p>
        </Show>
        <button type="submit" class="primary" disabled={busy()}>
          {busy() ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
