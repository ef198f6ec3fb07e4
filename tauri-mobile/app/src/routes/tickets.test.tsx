import { fireEvent, screen } from '@solidjs/testing-library'
import { describe, expect, it } from 'vitest'
import { startSyncStore } from '../lib/chat-sync-store'
import { FakeCore, ticket } from '../test/fake-core'
import { renderRouted, settle } from '../test/render'
import { TicketsPage } from './tickets'

const MESSAGE_COMMANDS = [
  'open_chat',
  'get_cached_messages',
  'resync',
  'manual_resync',
  'load_earlier'
]

describe('TicketsPage', () => {
  it('shows title, last message, unread count and sync state from the cached then refreshed list', async () => {
    const core = new FakeCore().install()
    const cached = [ticket('t1', 'Printer on fire')]
    const fresh = [
      ticket('t1', 'Printer on fire', {
        unreadCount: 3,
        syncState: 'OUT_OF_SYNC',
        lastMessageSequence: 7,
        lastMessage: {
          content: 'Have you tried water?',
          senderName: 'Tess Tech',
          createdAt: '2025-01-01T10:00:00Z',
          sequenceNumber: 7
        }
      }),
      ticket('t2', 'VPN drops', { syncState: 'SYNCED' })
    ]
    core.on('cached_tickets', () => cached)
    core.on('refresh_tickets', () => fresh)
    await startSyncStore()
    renderRouted(() => <TicketsPage />)
    await settle()

    const rows = screen.getAllByTestId('ticket-row')
    expect(rows.map((r) => r.querySelector('.ticket-title')?.textContent)).toEqual([
      'Printer on fire',
      'VPN drops'
    ])
    expect(rows[0].querySelector('[data-testid=ticket-last-message]')?.textContent).toBe(
      'Tess Tech: Have you tried water?'
    )
    expect(rows[0].querySelector('[data-testid=unread-count]')?.textContent).toBe('3')
    expect(rows[1].querySelector('[data-testid=unread-count]')).toBeNull()
    expect(rows[0].dataset.syncState).toBe('OUT_OF_SYNC')
    expect(rows[0].textContent).toContain('Updates pending')
    // No permanent "synced" badge.
    expect(rows[1].dataset.syncState).toBe('SYNCED')
    expect(rows[1].querySelector('.sync-state-chip')).toBeNull()
    expect(rows[0].getAttribute('href')).toBe('/tickets/t1')

    // Live state changes reach the rows.
    core.emit({ type: 'syncStateChanged', requestId: 't1', state: 'SYNCED' })
    core.emit({ type: 'syncingChanged', requestId: 't2', syncing: true })
    await settle()
    expect(rows[0].dataset.syncState).toBe('SYNCED')
    expect(rows[1].querySelector('[data-testid=sync-indicator-compact]')).not.toBeNull()
  })

  it('refreshes metadata only, never messages', async () => {
    const core = new FakeCore().install()
    core.tickets = [ticket('t1', 'One')]
    await startSyncStore()
    renderRouted(() => <TicketsPage />)
    await settle()
    fireEvent.click(screen.getByTestId('refresh-tickets'))
    await settle()
    expect(core.callsOf('cached_tickets')).toHaveLength(1)
    expect(core.callsOf('refresh_tickets')).toHaveLength(2)
    for (const command of MESSAGE_COMMANDS) expect(core.callsOf(command)).toEqual([])
  })

  it('keeps the cached list and shows the error when the refresh fails', async () => {
    const core = new FakeCore().install()
    core.on('cached_tickets', () => [ticket('t1', 'Cached one')])
    core.on('refresh_tickets', () => {
      throw { kind: 'network', message: 'cannot reach the server' }
    })
    await startSyncStore()
    renderRouted(() => <TicketsPage />)
    await settle()
    expect(screen.getByText('Cached one')).toBeTruthy()
    expect(screen.getByRole('alert').textContent).toBe('cannot reach the server')
  })

  it('follows tickets pushed by the core', async () => {
    const core = new FakeCore().install()
    await startSyncStore()
    renderRouted(() => <TicketsPage />)
    await settle()
    expect(screen.getByTestId('tickets-empty').textContent).toBe('No tickets yet.')
    core.emit({ type: 'ticketsChanged', tickets: [ticket('t9', 'Pushed ticket')] })
    await settle()
    expect(screen.getByText('Pushed ticket')).toBeTruthy()
  })
})
