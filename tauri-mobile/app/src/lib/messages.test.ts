import { describe, expect, it } from 'vitest'
import { outgoingMessage, serverMessage } from '../test/fake-core'
import { applyMessageChanges, isOwnMessage } from './messages'

describe('applyMessageChanges', () => {
  it('orders by sequence with local messages last, upserts by id, removes ids', () => {
    const pending = outgoingMessage('t1', 'c1', 'mine')
    const list = applyMessageChanges(
      [],
      [pending, serverMessage('t1', 2, 'b'), serverMessage('t1', 1, 'a')]
    )
    expect(list.map((m) => m.content)).toEqual(['a', 'b', 'mine'])
    const edited = applyMessageChanges(list, [serverMessage('t1', 2, 'b2')], ['m-t1-1'])
    expect(edited.map((m) => m.content)).toEqual(['b2', 'mine'])
    expect(list.map((m) => m.content)).toEqual(['a', 'b', 'mine'])
  })

  it('replaces a local message by its delivered copy and is idempotent', () => {
    const pending = outgoingMessage('t1', 'c1', 'mine')
    const delivered = { ...serverMessage('t1', 3, 'mine', false), clientTempId: 'c1' }
    const once = applyMessageChanges([pending], [delivered])
    expect(once.map((m) => [m.id, m.status])).toEqual([['m-t1-3', 'sent']])
    expect(applyMessageChanges(once, [delivered])).toEqual(once)
  })

  it('tells own messages from the technician and the system', () => {
    expect(isOwnMessage(serverMessage('t1', 1, 'x', false))).toBe(true)
    expect(isOwnMessage(serverMessage('t1', 1, 'x', true))).toBe(false)
    expect(isOwnMessage(outgoingMessage('t1', 'c', 'x'))).toBe(true)
    expect(isOwnMessage({ ...serverMessage('t1', 1, 'x', false), isSystemMessage: true })).toBe(
      false
    )
  })
})
