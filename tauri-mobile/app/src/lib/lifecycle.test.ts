import { describe, expect, it } from 'vitest'
import { FakeCore } from '../test/fake-core'
import { settle } from '../test/render'
import { syncStore } from './chat-sync-store'
import { wireLifecycle } from './lifecycle'

function setVisibility(state: DocumentVisibilityState) {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state })
  document.dispatchEvent(new Event('visibilitychange'))
}

describe('wireLifecycle', () => {
  it('reports resume and connectivity to the core until disposed', async () => {
    const core = new FakeCore().install()
    const dispose = wireLifecycle()
    setVisibility('hidden')
    setVisibility('visible')
    window.dispatchEvent(new Event('offline'))
    expect(syncStore.online).toBe(false)
    window.dispatchEvent(new Event('online'))
    expect(syncStore.online).toBe(true)
    await settle()
    expect(core.callsOf('app_resumed')).toHaveLength(1)
    expect(core.callsOf('connectivity_changed').map((c) => c.args.online)).toEqual([false, true])

    dispose()
    setVisibility('visible')
    window.dispatchEvent(new Event('offline'))
    await settle()
    expect(core.callsOf('app_resumed')).toHaveLength(1)
    expect(core.callsOf('connectivity_changed')).toHaveLength(2)
  })
})
