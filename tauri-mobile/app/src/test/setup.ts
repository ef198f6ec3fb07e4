import 'fake-indexeddb/auto'
import { cleanup } from '@solidjs/testing-library'
import { clearMocks } from '@tauri-apps/api/mocks'
import { IDBFactory } from 'fake-indexeddb'
import { afterEach } from 'vitest'
import { stopSyncStore } from '../lib/chat-sync-store'
import { setMessageCacheBridge } from '../lib/message-cache-bridge'

afterEach(async () => {
  // Unmount first (components unsubscribe through the still-mocked IPC), then drop the mocks.
  cleanup()
  await stopSyncStore()
  setMessageCacheBridge(null)
  localStorage.clear()
  globalThis.indexedDB = new IDBFactory()
  clearMocks()
})
