import { mockIPC } from '@tauri-apps/api/mocks'
import * as chatsync from 'tauri-plugin-chatsync-api'
import { ChatSyncError, toChatSyncError } from 'tauri-plugin-chatsync-api'
import { describe, expect, it } from 'vitest'
import { FakeCore } from '../test/fake-core'
import { settle } from '../test/render'

describe('the plugin guest API', () => {
  it('calls the plugin commands with camelCase arguments', async () => {
    const calls: [string, unknown][] = []
    mockIPC((cmd, args) => {
      calls.push([cmd, args])
      return null
    })
    await chatsync.signIn('http://127.0.0.1:8787', 'tok')
    await chatsync.getCachedMessages('t1')
    await chatsync.retrySend('t1', 'c1')
    await chatsync.connectivityChanged(false)
    expect(calls).toEqual([
      ['plugin:chatsync|sign_in', { serverUrl: 'http://127.0.0.1:8787', token: 'tok' }],
      ['plugin:chatsync|get_cached_messages', { requestId: 't1', limit: null }],
      ['plugin:chatsync|retry_send', { requestId: 't1', clientTempId: 'c1' }],
      ['plugin:chatsync|connectivity_changed', { online: false }]
    ])
  })

  it('rejects with a typed ChatSyncError', async () => {
    mockIPC(() => {
      throw { kind: 'unauthorized', message: 'token rejected' }
    })
    const error = await chatsync.refreshTickets().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ChatSyncError)
    expect(error).toMatchObject({ kind: 'unauthorized', message: 'token rejected' })
    expect(toChatSyncError('plain text')).toMatchObject({
      kind: 'invalidArgument',
      message: 'plain text'
    })
    expect(toChatSyncError({ kind: 'bogus', message: 'x' }).kind).toBe('invalidArgument')
  })

  it('delivers channel events in order and stops after unsubscribe', async () => {
    const core = new FakeCore().install()
    const seen: string[] = []
    const subscription = await chatsync.subscribe((event) => seen.push(event.type), 't1')
    expect(core.callsOf('subscribe')[0].args.requestId).toBe('t1')
    core.emit({ type: 'syncStateChanged', requestId: 't1', state: 'SYNCED' })
    core.emit({ type: 'syncingChanged', requestId: 't1', syncing: false })
    core.emit({ type: 'syncingChanged', requestId: 'other', syncing: true })
    await settle()
    expect(seen).toEqual(['syncStateChanged', 'syncingChanged'])
    await subscription.unsubscribe()
    await subscription.unsubscribe()
    expect(core.callsOf('unsubscribe')).toEqual([
      { command: 'unsubscribe', args: { id: subscription.id } }
    ])
    core.emit({ type: 'syncStateChanged', requestId: 't1', state: 'OUT_OF_SYNC' })
    await settle()
    expect(seen).toHaveLength(2)
  })
})
