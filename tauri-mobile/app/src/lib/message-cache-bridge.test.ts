import type { ChatMessage, ImportReport } from 'tauri-plugin-chatsync-api'
import { describe, expect, it } from 'vitest'
import { serverMessage, outgoingMessage } from '../test/fake-core'
import { LegacyMessageCache, LEGACY_DB_NAME } from './legacy-message-cache'
import {
  type CoreMessageCache,
  type ImportMarker,
  MessageCacheBridge
} from './message-cache-bridge'

class RecordingCore implements CoreMessageCache {
  messages = new Map<string, ChatMessage[]>()
  imported: ChatMessage[][] = []
  failImport = false
  async getCachedMessages(requestId: string): Promise<ChatMessage[]> {
    return this.messages.get(requestId) ?? []
  }
  async importLegacyMessages(messages: ChatMessage[]): Promise<ImportReport> {
    if (this.failImport) throw new Error('core not reachable')
    this.imported.push(messages)
    const imported = messages.filter((m) => m.sequenceNumber !== null).length
    return { imported, skipped: messages.length - imported, rejected: 0, errors: [] }
  }
}

function memoryMarker(): ImportMarker & { keys: Set<string> } {
  const keys = new Set<string>()
  return { keys, isDone: (k) => keys.has(k), markDone: (k) => void keys.add(k) }
}

async function databaseNames(): Promise<string[]> {
  return (await indexedDB.databases()).map((d) => d.name ?? '')
}

const quiet = {
  onError: (error: unknown) => {
    throw error
  }
}

describe('LegacyMessageCache', () => {
  it('stores messages per chat in display order with a meta row', async () => {
    const legacy = new LegacyMessageCache()
    await legacy.cacheMessages('t1', [serverMessage('t1', 2, 'b'), serverMessage('t1', 1, 'a')])
    await legacy.addMessage(serverMessage('t2', 1, 'other chat'))
    await legacy.addMessage(outgoingMessage('t1', 'c1', 'pending one'))
    expect((await legacy.getCachedMessages('t1')).map((m) => m.content)).toEqual([
      'a',
      'b',
      'pending one'
    ])
    expect(await legacy.getChatMeta('t1')).toMatchObject({ latestSequence: 2, messageCount: 3 })
    await legacy.applyChanges('t1', [serverMessage('t1', 3, 'c')], ['m-t1-1'])
    expect((await legacy.getCachedMessages('t1')).map((m) => m.content)).toEqual([
      'b',
      'c',
      'pending one'
    ])
    await legacy.cacheMessages('t1', [serverMessage('t1', 9, 'replaced')])
    expect((await legacy.getCachedMessages('t1')).map((m) => m.content)).toEqual(['replaced'])
    expect((await legacy.getAllMessages()).length).toBe(2)
    await legacy.clear()
    expect(await legacy.getAllMessages()).toEqual([])
    await legacy.close()
  })
})

describe('MessageCacheBridge', () => {
  it('phase 2 (default): reads SQLite, writes both', async () => {
    const legacy = new LegacyMessageCache()
    const core = new RecordingCore()
    core.messages.set('t1', [serverMessage('t1', 1, 'from sqlite')])
    const bridge = new MessageCacheBridge({ legacy, core, marker: memoryMarker(), ...quiet })
    expect(bridge.phase).toBe(2)
    await legacy.addMessage(serverMessage('t1', 1, 'stale legacy copy'))
    expect((await bridge.readMessages('t1')).map((m) => m.content)).toEqual(['from sqlite'])
    const fromOpen = [serverMessage('t1', 1, 'opened')]
    expect(await bridge.readMessages('t1', fromOpen)).toBe(fromOpen)

    await bridge.recordChanges('t1', [serverMessage('t1', 2, 'pushed')])
    expect((await legacy.getCachedMessages('t1')).map((m) => m.content)).toEqual([
      'stale legacy copy',
      'pushed'
    ])
    await legacy.close()
  })

  it('phase 1: mirrors what the core opened into IndexedDB and reads IndexedDB', async () => {
    const legacy = new LegacyMessageCache()
    const core = new RecordingCore()
    const bridge = new MessageCacheBridge({
      phase: 1,
      legacy,
      core,
      marker: memoryMarker(),
      ...quiet
    })
    await legacy.addMessage(serverMessage('t1', 1, 'only in legacy'))
    const read = await bridge.readMessages('t1', [serverMessage('t1', 2, 'from core')])
    expect(read.map((m) => m.content)).toEqual(['only in legacy', 'from core'])
    await bridge.recordChanges('t1', [serverMessage('t1', 3, 'pushed')], ['m-t1-1'])
    expect((await bridge.readMessages('t1')).map((m) => m.content)).toEqual(['from core', 'pushed'])
    await legacy.close()
  })

  it('phase 3: never writes IndexedDB and deletes it after the import', async () => {
    const legacy = new LegacyMessageCache()
    await legacy.addMessage(serverMessage('t1', 1, 'old history'))
    await legacy.close()
    expect(await databaseNames()).toContain(LEGACY_DB_NAME)

    const core = new RecordingCore()
    const bridge = new MessageCacheBridge({
      phase: 3,
      legacy,
      core,
      marker: memoryMarker(),
      ...quiet
    })
    const report = await bridge.importLegacyOnce('http://127.0.0.1:8787')
    expect(report).toEqual({ imported: 1, skipped: 0, rejected: 0, errors: [] })
    expect(core.imported[0].map((m) => m.content)).toEqual(['old history'])
    expect(await databaseNames()).not.toContain(LEGACY_DB_NAME)

    await bridge.recordChanges('t1', [serverMessage('t1', 2, 'new')])
    expect(await databaseNames()).not.toContain(LEGACY_DB_NAME)
  })

  it('imports the legacy cache once per server, and again after a failed attempt', async () => {
    const legacy = new LegacyMessageCache()
    await legacy.cacheMessages('t1', [
      serverMessage('t1', 1, 'a'),
      outgoingMessage('t1', 'c1', 'unsent')
    ])
    await legacy.addMessage(serverMessage('t2', 4, 'b'))
    const core = new RecordingCore()
    const marker = memoryMarker()
    const bridge = new MessageCacheBridge({ legacy, core, marker, ...quiet })

    core.failImport = true
    await expect(bridge.importLegacyOnce('server-a')).rejects.toThrow('core not reachable')
    expect(marker.keys.size).toBe(0)

    core.failImport = false
    expect(await bridge.importLegacyOnce('server-a')).toEqual({
      imported: 2,
      skipped: 1,
      rejected: 0,
      errors: []
    })
    expect(await bridge.importLegacyOnce('server-a')).toBeNull()
    expect(core.imported).toHaveLength(1)
    // Phase 2 keeps the legacy database (rollback stays possible).
    expect((await legacy.getAllMessages()).length).toBe(3)
    await legacy.close()
  })

  it('reports legacy write failures without failing the caller', async () => {
    const errors: unknown[] = []
    const broken = new LegacyMessageCache({
      open: () => {
        throw new Error('IndexedDB disabled')
      }
    } as unknown as IDBFactory)
    const core = new RecordingCore()
    core.messages.set('t1', [serverMessage('t1', 1, 'sqlite')])
    const bridge = new MessageCacheBridge({
      phase: 1,
      legacy: broken,
      core,
      marker: memoryMarker(),
      onError: (e) => errors.push(e)
    })
    await bridge.recordChanges('t1', [serverMessage('t1', 2, 'x')])
    // Phase 1 with a broken legacy cache falls back to SQLite instead of showing nothing.
    expect((await bridge.readMessages('t1')).map((m) => m.content)).toEqual(['sqlite'])
    expect(await bridge.importLegacyOnce('s')).toEqual({
      imported: 0,
      skipped: 0,
      rejected: 0,
      errors: []
    })
    expect(errors.map(String)).toEqual([
      'Error: IndexedDB disabled',
      'Error: IndexedDB disabled',
      'Error: IndexedDB disabled'
    ])
  })
})
