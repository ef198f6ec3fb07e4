import { createRoot, createSignal } from 'solid-js'
import { describe, expect, it } from 'vitest'
import { FakeCore, outgoingMessage, serverMessage } from '../test/fake-core'
import { settle } from '../test/render'
import { useChatSync, type ChatSync } from './use-chat-sync'

function mount(initial: string | null) {
  const [id, setId] = createSignal<string | null>(initial)
  let sync!: ChatSync
  const dispose = createRoot((dispose) => {
    sync = useChatSync(id)
    return dispose
  })
  return { sync, setId, dispose }
}

describe('useChatSync', () => {
  it('opens the chat, shows the cached messages and follows the core', async () => {
    const core = new FakeCore().install()
    core.messages.set('t1', [serverMessage('t1', 2, 'two'), serverMessage('t1', 1, 'one')])
    core.states.set('t1', 'SYNCED')
    const { sync, dispose } = mount('t1')
    await settle()

    expect(core.callsOf('subscribe')[0].args.requestId).toBe('t1')
    expect(core.callsOf('open_chat')[0].args).toEqual({ requestId: 't1' })
    expect(sync.cachedMessages().map((m) => m.content)).toEqual(['one', 'two'])
    expect(sync.syncState()).toBe('SYNCED')
    expect(sync.isSyncing()).toBe(false)
    expect(sync.loaded()).toBe(true)

    core.emit({ type: 'syncStateChanged', requestId: 't1', state: 'OUT_OF_SYNC' })
    core.emit({ type: 'syncingChanged', requestId: 't1', syncing: true })
    await settle()
    expect(sync.syncState()).toBe('OUT_OF_SYNC')
    expect(sync.isSyncing()).toBe(true)

    core.emit({
      type: 'messagesChanged',
      requestId: 't1',
      inserted: [serverMessage('t1', 3, 'three')],
      updated: [{ ...serverMessage('t1', 1, 'one (edited)') }],
      removedIds: []
    })
    core.emit({ type: 'syncingChanged', requestId: 't1', syncing: false })
    core.emit({ type: 'syncStateChanged', requestId: 't1', state: 'SYNCED' })
    await settle()
    expect(sync.cachedMessages().map((m) => m.content)).toEqual(['one (edited)', 'two', 'three'])
    expect(sync.isSyncing()).toBe(false)
    expect(sync.syncState()).toBe('SYNCED')
    // A finished resync re-reads the recorded history gaps.
    expect(core.callsOf('history_gaps')).toHaveLength(1)
    dispose()
  })

  it('replays message changes that arrive before the opened snapshot', async () => {
    const core = new FakeCore().install()
    core.messages.set('t1', [serverMessage('t1', 1, 'one')])
    core.on('open_chat', () => {
      // A push lands between subscribe and open.
      core.emit({
        type: 'messagesChanged',
        requestId: 't1',
        inserted: [serverMessage('t1', 2, 'pushed')],
        updated: [],
        removedIds: []
      })
      return {
        messages: core.messages.get('t1'),
        meta: { requestId: 't1', syncState: 'UNKNOWN' },
        historyGaps: [],
        isSyncing: false
      }
    })
    const { sync, dispose } = mount('t1')
    await settle()
    expect(sync.cachedMessages().map((m) => m.content)).toEqual(['one', 'pushed'])
    dispose()
  })

  it('unsubscribes and closes the chat on unmount and on a chat change', async () => {
    const core = new FakeCore().install()
    const { setId, dispose } = mount('t1')
    await settle()
    expect(core.subscriptionCount).toBe(1)

    setId('t2')
    await settle()
    expect(core.callsOf('close_chat').map((c) => c.args.requestId)).toEqual(['t1'])
    expect(core.callsOf('open_chat').map((c) => c.args.requestId)).toEqual(['t1', 't2'])
    expect(core.subscriptionCount).toBe(1)

    dispose()
    await settle()
    expect(core.callsOf('close_chat').map((c) => c.args.requestId)).toEqual(['t1', 't2'])
    expect(core.callsOf('unsubscribe')).toHaveLength(2)
    expect(core.subscriptionCount).toBe(0)
  })

  it('does nothing without a chat', async () => {
    const core = new FakeCore().install()
    const { sync, dispose } = mount(null)
    await settle()
    await sync.manualResync()
    expect(core.calls).toEqual([])
    expect(sync.cachedMessages()).toEqual([])
    dispose()
  })

  it('manual resync runs the core command and reports its failure', async () => {
    const core = new FakeCore().install()
    const { sync, dispose } = mount('t1')
    await settle()
    await sync.manualResync()
    expect(core.callsOf('manual_resync')[0].args).toEqual({ requestId: 't1' })
    expect(sync.error()).toBeNull()

    core.on('manual_resync', () => {
      throw { kind: 'network', message: 'server unreachable' }
    })
    await sync.manualResync()
    expect(sync.error()).toBe('server unreachable')
    dispose()
  })

  it('shows a sent message as pending at once and replaces it when delivered', async () => {
    const core = new FakeCore().install()
    core.on('send_message', (args) =>
      outgoingMessage('t1', 'c-1', args.content as string, 'pending')
    )
    const { sync, dispose } = mount('t1')
    await settle()
    await sync.send('hello')
    expect(sync.cachedMessages().map((m) => [m.content, m.status])).toEqual([['hello', 'pending']])

    core.emit({
      type: 'messagesChanged',
      requestId: 't1',
      inserted: [{ ...serverMessage('t1', 1, 'hello', false), clientTempId: 'c-1' }],
      updated: [],
      removedIds: []
    })
    await settle()
    expect(sync.cachedMessages().map((m) => [m.content, m.status])).toEqual([['hello', 'sent']])
    dispose()
  })

  it('refreshCachedMessages re-reads the cache', async () => {
    const core = new FakeCore().install()
    const { sync, dispose } = mount('t1')
    await settle()
    core.messages.set('t1', [serverMessage('t1', 1, 'later')])
    await sync.refreshCachedMessages()
    expect(core.callsOf('get_cached_messages')[0].args.requestId).toBe('t1')
    expect(sync.cachedMessages().map((m) => m.content)).toEqual(['later'])
    dispose()
  })
})
