import { describe, expect, it } from 'vitest'
import { configuredCachePhase, parseCachePhase, storeCachePhase } from './config'

describe('cache phase configuration', () => {
  it('defaults to phase 2 and accepts only 1, 2 or 3', () => {
    expect(configuredCachePhase(null)).toBe(2)
    expect(parseCachePhase('1')).toBe(1)
    expect(parseCachePhase(3)).toBe(3)
    expect(parseCachePhase('4')).toBeNull()
    expect(parseCachePhase('two')).toBeNull()
    expect(parseCachePhase(undefined)).toBeNull()
  })

  it('reads the stored phase, ignoring a bad value', () => {
    storeCachePhase(3)
    expect(configuredCachePhase()).toBe(3)
    localStorage.setItem('chatsync.cachePhase', 'banana')
    expect(configuredCachePhase()).toBe(2)
  })
})
