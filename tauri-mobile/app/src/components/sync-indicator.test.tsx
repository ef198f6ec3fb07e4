import { render, screen } from '@solidjs/testing-library'
import { describe, expect, it } from 'vitest'
import { startSyncStore } from '../lib/chat-sync-store'
import { FakeCore } from '../test/fake-core'
import { settle } from '../test/render'
import { SyncIndicator, SyncIndicatorCompact } from './sync-indicator'

async function setup() {
  const core = new FakeCore().install()
  await startSyncStore()
  render(() => (
    <>
      <SyncIndicator requestId="t1" />
      <SyncIndicatorCompact requestId="t1" />
    </>
  ))
  return core
}

describe('SyncIndicator', () => {
  it('shows nothing by default and nothing for validation-only state changes', async () => {
    const core = await setup()
    expect(screen.queryByTestId('sync-indicator')).toBeNull()
    for (const state of ['UNKNOWN', 'OUT_OF_SYNC', 'SYNCED'] as const) {
      core.emit({ type: 'syncStateChanged', requestId: 't1', state })
      await settle()
      expect(screen.queryByTestId('sync-indicator')).toBeNull()
      expect(screen.queryByTestId('sync-indicator-compact')).toBeNull()
    }
  })

  it('shows a spinner only while the resync runs, and never a synced badge after it', async () => {
    const core = await setup()
    core.emit({ type: 'syncingChanged', requestId: 't1', syncing: true })
    await settle()
    expect(screen.getByTestId('sync-indicator').textContent).toContain('Syncing messages')
    expect(screen.getByTestId('sync-indicator-compact').getAttribute('aria-label')).toBe(
      'Syncing messages'
    )

    core.emit({ type: 'syncingChanged', requestId: 't1', syncing: false })
    core.emit({ type: 'syncStateChanged', requestId: 't1', state: 'SYNCED' })
    await settle()
    expect(screen.queryByTestId('sync-indicator')).toBeNull()
    expect(screen.queryByTestId('sync-indicator-compact')).toBeNull()
    expect(document.body.textContent).not.toMatch(/synced/i)
  })

  it('ignores other chats', async () => {
    const core = await setup()
    core.emit({ type: 'syncingChanged', requestId: 'other', syncing: true })
    await settle()
    expect(screen.queryByTestId('sync-indicator')).toBeNull()
  })
})
