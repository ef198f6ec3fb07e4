import { fireEvent, screen } from '@solidjs/testing-library'
import { describe, expect, it } from 'vitest'
import { startSyncStore } from '../lib/chat-sync-store'
import { FakeCore, outgoingMessage, serverMessage, ticket } from '../test/fake-core'
import { renderRouted, settle } from '../test/render'
import { TicketChat } from './ticket-chat'

async function open(_core: FakeCore) {
  await startSyncStore()
  renderRouted(() => <TicketChat ticketId="t1" />)
  await settle()
}

function contents(): string[] {
  return screen
    .getAllByTestId('message')
    .map((m) => m.querySelector('.message-content')!.textContent!)
}

describe('TicketChat', () => {
  it('renders the cached messages at once, the other party named', async () => {
    const core = new FakeCore().install()
    core.tickets = [ticket('t1', 'Printer on fire')]
    core.messages.set('t1', [
      serverMessage('t1', 1, 'Hello, how can I help?'),
      serverMessage('t1', 2, 'My printer is on fire', false)
    ])
    await startSyncStore()
    core.emit({ type: 'ticketsChanged', tickets: core.tickets })
    renderRouted(() => <TicketChat ticketId="t1" />)
    await settle()
    expect(screen.getByTestId('chat-title').textContent).toBe('Printer on fire')
    expect(contents()).toEqual(['Hello, how can I help?', 'My printer is on fire'])
    const [theirs, mine] = screen.getAllByTestId('message')
    expect(theirs.classList.contains('own')).toBe(false)
    expect(theirs.textContent).toContain('Tess Tech')
    expect(mine.classList.contains('own')).toBe(true)
    expect(screen.queryByTestId('load-earlier')).toBeNull()
  })

  it('offers "load earlier" while history gaps are recorded', async () => {
    const core = new FakeCore().install()
    core.messages.set('t1', [serverMessage('t1', 300, 'newest')])
    core.gaps.set('t1', [{ start: 1, end: 299 }])
    core.on('load_earlier', () => ({
      loaded: [serverMessage('t1', 299, 'older')],
      remainingGaps: []
    }))
    await open(core)
    fireEvent.click(screen.getByTestId('load-earlier'))
    await settle()
    expect(core.callsOf('load_earlier')[0].args).toEqual({ requestId: 't1' })
    expect(contents()).toEqual(['older', 'newest'])
    expect(screen.queryByTestId('load-earlier')).toBeNull()
  })

  it('disables and spins the resync button while resyncing, and resyncs on click', async () => {
    const core = new FakeCore().install()
    await open(core)
    const button = screen.getByTestId('resync-button') as HTMLButtonElement
    expect(button.disabled).toBe(false)
    expect(button.querySelector('.animate-spin')).toBeNull()
    expect(screen.queryByTestId('sync-indicator')).toBeNull()

    fireEvent.click(button)
    await settle()
    expect(core.callsOf('manual_resync')).toHaveLength(1)

    core.emit({ type: 'syncingChanged', requestId: 't1', syncing: true })
    await settle()
    expect(button.disabled).toBe(true)
    expect(button.querySelector('.animate-spin')).not.toBeNull()
    expect(screen.getByTestId('sync-indicator')).toBeTruthy()

    core.emit({ type: 'syncingChanged', requestId: 't1', syncing: false })
    await settle()
    expect(button.disabled).toBe(false)
    expect(button.querySelector('.animate-spin')).toBeNull()
    expect(screen.queryByTestId('sync-indicator')).toBeNull()
  })

  it('sends: pending at once, then sent; failed shows retry', async () => {
    const core = new FakeCore().install()
    core.on('send_message', (args) => outgoingMessage('t1', 'c-1', args.content as string))
    await open(core)
    const input = screen.getByTestId('composer-input') as HTMLTextAreaElement
    const send = screen.getByTestId('composer-send') as HTMLButtonElement
    expect(send.disabled).toBe(true)
    fireEvent.input(input, { target: { value: 'Is anyone there?' } })
    expect(send.disabled).toBe(false)
    fireEvent.click(send)
    await settle()
    expect(core.callsOf('send_message')[0].args).toEqual({
      requestId: 't1',
      content: 'Is anyone there?'
    })
    expect(input.value).toBe('')
    const bubble = () => screen.getAllByTestId('message')[0]
    expect(bubble().dataset.status).toBe('pending')
    expect(screen.getByTestId('status-pending').textContent).toBe('Sending…')

    const failed = outgoingMessage('t1', 'c-1', 'Is anyone there?', 'failed')
    core.emit({
      type: 'messagesChanged',
      requestId: 't1',
      inserted: [],
      updated: [failed],
      removedIds: []
    })
    await settle()
    expect(bubble().dataset.status).toBe('failed')
    fireEvent.click(screen.getByTestId('retry-send'))
    await settle()
    expect(core.callsOf('retry_send')[0].args).toEqual({ requestId: 't1', clientTempId: 'c-1' })
    expect(bubble().dataset.status).toBe('pending')

    const delivered = { ...serverMessage('t1', 1, 'Is anyone there?', false), clientTempId: 'c-1' }
    core.emit({
      type: 'messagesChanged',
      requestId: 't1',
      inserted: [delivered],
      updated: [],
      removedIds: [failed.id]
    })
    await settle()
    expect(screen.getAllByTestId('message')).toHaveLength(1)
    expect(bubble().dataset.status).toBe('sent')
    expect(bubble().dataset.seq).toBe('1')
  })

  it('shows why a send was refused and keeps the draft', async () => {
    const core = new FakeCore().install()
    core.on('send_message', () => {
      throw { kind: 'invalidArgument', message: 'message is too long' }
    })
    await open(core)
    const input = screen.getByTestId('composer-input') as HTMLTextAreaElement
    fireEvent.input(input, { target: { value: 'x' } })
    fireEvent.click(screen.getByTestId('composer-send'))
    await settle()
    expect(screen.getByRole('alert').textContent).toBe('message is too long')
    expect(input.value).toBe('x')
  })

  it('shows a message pushed by the other party', async () => {
    const core = new FakeCore().install()
    core.messages.set('t1', [serverMessage('t1', 1, 'first')])
    await open(core)
    core.emit({
      type: 'messagesChanged',
      requestId: 't1',
      inserted: [serverMessage('t1', 2, 'pushed reply')],
      updated: [],
      removedIds: []
    })
    await settle()
    expect(contents()).toEqual(['first', 'pushed reply'])
  })
})
