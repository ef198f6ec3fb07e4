import { fireEvent, render, screen } from '@solidjs/testing-library'
import { describe, expect, it } from 'vitest'
import { App } from './App'
import { LegacyMessageCache } from './lib/legacy-message-cache'
import { FakeCore, serverMessage, ticket } from './test/fake-core'
import { settle } from './test/render'

describe('App', () => {
  it('signs in with the dev defaults, imports the legacy cache once, then lists tickets', async () => {
    const legacy = new LegacyMessageCache()
    await legacy.addMessage(serverMessage('t1', 1, 'from the old app'))
    await legacy.close()
    const core = new FakeCore().install()
    core.tickets = [ticket('t1', 'Printer on fire')]
    render(() => <App />)
    const form = screen.getByRole('form', { name: 'Sign in' })
    expect((form.querySelector('[name=serverUrl]') as HTMLInputElement).value).toBe(
      'http://127.0.0.1:8787'
    )
    fireEvent.submit(form)
    await settle(10)
    expect(core.callsOf('sign_in')[0].args).toEqual({
      serverUrl: 'http://127.0.0.1:8787',
      token: 'dev-token'
    })
    expect(core.callsOf('subscribe')[0].args.requestId).toBeNull()
    const imported = core.callsOf('import_legacy_messages')
    expect(imported).toHaveLength(1)
    expect((imported[0].args.messages as { content: string }[]).map((m) => m.content)).toEqual([
      'from the old app'
    ])
    expect(screen.getByText('Printer on fire')).toBeTruthy()
  })

  it('shows the sign-in error and stays on the form', async () => {
    const core = new FakeCore().install()
    core.on('sign_in', () => {
      throw { kind: 'invalidArgument', message: 'server URL must be http(s)' }
    })
    render(() => <App />)
    fireEvent.submit(screen.getByRole('form', { name: 'Sign in' }))
    await settle()
    expect(screen.getByRole('alert').textContent).toBe('server URL must be http(s)')
    expect(core.callsOf('subscribe')).toEqual([])
  })
})
