// End-to-end test of the desktop build: the real app (front end embedded), the
// real plugin and core, the reference server on loopback, driven through
// tauri-driver + WebKitWebDriver under Xvfb. Run by tauri-mobile/scripts/test.sh:
//
//   APP=<binary> SERVER_BIN=<chatsync-server> TAURI_DRIVER=<tauri-driver> \
//     xvfb-run -a -s '-screen 0 1280x900x24' node --test e2e/
//
// Optional: NATIVE_DRIVER (default /usr/bin/WebKitWebDriver), SCREENSHOT (default
// <repo>/artifacts/tauri-chat.png).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { remote } from 'webdriverio'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '../../..')
const APP = required('APP')
const SERVER_BIN = required('SERVER_BIN')
const TAURI_DRIVER = required('TAURI_DRIVER')
const NATIVE_DRIVER = process.env.NATIVE_DRIVER ?? '/usr/bin/WebKitWebDriver'
const SCREENSHOT = process.env.SCREENSHOT ?? join(repo, 'artifacts', 'tauri-chat.png')

const REQUESTER_TOKEN = 'e2e-requester-token'
const TECHNICIAN_TOKEN = 'e2e-technician-token'
const ADMIN_TOKEN = 'e2e-admin-token'

function required(name) {
  const value = process.env[name]
  if (!value) throw new Error(`set ${name} (see the header of ${fileURLToPath(import.meta.url)})`)
  return value
}

const work = mkdtempSync(join(tmpdir(), 'chatsync-e2e-'))
const children = new Set()
let server = null
let serverPort = 0
let technicianId = ''
let driver = null
let browser = null

function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = net.createServer()
    probe.unref()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolvePort(port))
    })
  })
}

function waitPort(port, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolveWait, reject) => {
    const attempt = () => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolveWait()
      })
      socket.once('error', () => {
        socket.destroy()
        if (Date.now() > deadline) reject(new Error(`port ${port} did not open`))
        else setTimeout(attempt, 100)
      })
    }
    attempt()
  })
}

function track(child) {
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** Starts the reference server (same port and database file on every start). */
async function startServer() {
  const child = track(
    spawn(
      SERVER_BIN,
      [
        '--addr',
        `127.0.0.1:${serverPort}`,
        '--db',
        join(work, 'server.sqlite'),
        '--seed-tickets',
        '3',
        '--seed-messages',
        '20',
        '--faults',
        '--requester-token',
        REQUESTER_TOKEN,
        '--technician-token',
        TECHNICIAN_TOKEN,
        '--admin-token',
        ADMIN_TOKEN
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } }
    )
  )
  const line = await new Promise((resolveLine, reject) => {
    const lines = createInterface({ input: child.stdout })
    lines.once('line', resolveLine)
    child.once('exit', (code) => reject(new Error(`chatsync-server exited early (${code})`)))
  })
  const startup = JSON.parse(line)
  technicianId = startup.users.find((u) => u.role === 'technician').id
  server = child
}

async function stopServer() {
  const child = server
  server = null
  if (child === null || child.exitCode !== null) return
  const exited = new Promise((resolveExit) => child.once('exit', resolveExit))
  child.kill('SIGTERM')
  await exited
}

async function admin(path, body) {
  const response = await fetch(`http://127.0.0.1:${serverPort}/admin/v1/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  if (!response.ok) throw new Error(`admin ${path}: ${response.status} ${await response.text()}`)
  return response.status === 204 ? null : response.json()
}

/** A message from the technician (the other party), pushed to the app by the server. */
function technicianSays(requestId, content) {
  return admin('messages', { requestId, senderId: technicianId, content })
}

async function waitFor(what, check, timeout = 20_000) {
  await browser.waitUntil(check, { timeout, interval: 100, timeoutMsg: `timed out: ${what}` })
}

async function messageTexts() {
  return browser.execute(() =>
    [...document.querySelectorAll('[data-testid=message] .message-content')].map(
      (e) => e.textContent
    )
  )
}

async function isShown(testId) {
  return browser.execute((id) => document.querySelector(`[data-testid=${id}]`) !== null, testId)
}

/** Polls every 20 ms in the page until `testId` appears, then until it is gone again. */
async function watchAppearAndVanish(testId, timeoutMs) {
  return browser.executeAsync(
    (id, limit, done) => {
      const start = Date.now()
      let seen = false
      const tick = () => {
        const present = document.querySelector(`[data-testid=${id}]`) !== null
        if (present) seen = true
        const result = (vanished) => ({
          seen,
          vanished,
          ms: Date.now() - start,
          messages: [...document.querySelectorAll('[data-testid=message] .message-content')].map(
            (e) => e.textContent
          )
        })
        if (seen && !present) return done(result(true))
        if (Date.now() - start > limit) return done(result(false))
        setTimeout(tick, 20)
      }
      tick()
    },
    testId,
    timeoutMs
  )
}

/** The request id of the chat on screen (from the `#/tickets/<id>` route). */
async function currentChat() {
  return decodeURIComponent(await browser.execute(() => location.hash.split('/').pop()))
}

async function openTicket(index) {
  const rows = await browser.$$('[data-testid=ticket-row]')
  const id = await rows[index].getAttribute('data-ticket-id')
  await rows[index].click()
  await (await browser.$('[data-testid=chat-title]')).waitForExist({ timeout: 10_000 })
  return id
}

async function backToTickets() {
  await (await browser.$('a.back')).click()
  await (await browser.$('[data-testid=ticket-list]')).waitForExist({ timeout: 10_000 })
}

before(async () => {
  serverPort = await freePort()
  await startServer()
  const driverPort = await freePort()
  driver = track(
    spawn(TAURI_DRIVER, ['--port', String(driverPort), '--native-driver', NATIVE_DRIVER], {
      stdio: ['ignore', 'inherit', 'inherit'],
      // The app's data dir (its SQLite cache) lives in the test's temp dir.
      env: { ...process.env, XDG_DATA_HOME: join(work, 'data') }
    })
  )
  await waitPort(driverPort)
  browser = await remote({
    hostname: '127.0.0.1',
    port: driverPort,
    logLevel: 'warn',
    capabilities: { 'tauri:options': { application: APP } }
  })
})

after(async () => {
  if (browser) await browser.deleteSession().catch(() => undefined)
  for (const child of children) child.kill('SIGTERM')
  rmSync(work, { recursive: true, force: true })
})

test('sign in and see the ticket list', async () => {
  const url = await browser.$('input[name=serverUrl]')
  await url.waitForExist({ timeout: 20_000 })
  await url.setValue(`http://127.0.0.1:${serverPort}`)
  await (await browser.$('input[name=token]')).setValue(REQUESTER_TOKEN)
  await (await browser.$('button[type=submit]')).click()
  await waitFor(
    'three tickets',
    async () => (await browser.$$('[data-testid=ticket-row]')).length === 3
  )
  const titles = await browser.execute(() =>
    [...document.querySelectorAll('.ticket-title')].map((e) => e.textContent)
  )
  assert.equal(titles.length, 3)
  for (const title of titles) assert.ok(title && title.length > 0)
  const last = await (await browser.$('[data-testid=ticket-last-message]')).getText()
  assert.notEqual(last, 'No messages yet')
})

test('opening a chat shows its messages; reopening renders them from the cache', async () => {
  await openTicket(0)
  await waitFor('20 messages', async () => (await messageTexts()).length === 20)
  const first = await messageTexts()
  await backToTickets()

  // Every HTTP answer now takes 4 s: what shows within 2 s can only come from SQLite.
  await admin('faults/http-delay', { ms: 4000 })
  const started = Date.now()
  await openTicket(0)
  await waitFor('cached messages', async () => (await messageTexts()).length === 20, 2000)
  assert.ok(Date.now() - started < 4000, 'rendered before any network answer')
  assert.deepEqual(await messageTexts(), first)
  await admin('faults/http-delay', { ms: 0 })
})

test('a message pushed by the other party appears', async () => {
  const id = await currentChat()
  await technicianSays(id, 'Pushed by the technician')
  await waitFor('the pushed message', async () =>
    (await messageTexts()).includes('Pushed by the technician')
  )
})

test('a lost push heals through a resync, with the indicator only during it', async () => {
  const id = await currentChat()
  assert.equal(await isShown('sync-indicator'), false, 'no indicator at rest')
  // The message.new push of the next message is lost; the server's ticket.updated
  // frame (or any later push) reveals the gap. Every HTTP answer takes 1.5 s, so
  // the resync's fetch is long enough to watch the spinner.
  await admin('faults/http-delay', { ms: 1500 })
  await admin('faults/drop-pushes', { count: 1, kind: 'message.new' })
  const watching = watchAppearAndVanish('sync-indicator', 20_000)
  await technicianSays(id, 'This push is lost')
  const seen = await watching
  await admin('faults/http-delay', { ms: 0 })
  assert.ok(seen.seen, 'the indicator showed during the resync')
  assert.ok(seen.vanished, 'the indicator went away after it')
  assert.ok(seen.messages.includes('This push is lost'), 'the resync fetched the lost message')
  assert.equal(seen.messages.filter((m) => m === 'This push is lost').length, 1)
  await waitFor(
    'SYNCED',
    async () =>
      (await (await browser.$('[data-testid=messages]')).getAttribute('data-sync-state')) ===
      'SYNCED'
  )
  // A push in sequence afterwards is shown with no resync.
  const quiet = watchAppearAndVanish('sync-indicator', 2000)
  await technicianSays(id, 'Back in sequence')
  await waitFor('the next push', async () => (await messageTexts()).includes('Back in sequence'))
  assert.equal((await quiet).seen, false, 'no indicator for a push in sequence')
})

test('the resync button resyncs: disabled and spinning while it runs', async () => {
  const before = await admin('stats')
  await admin('faults/http-delay', { ms: 1500 })
  const button = await browser.$('[data-testid=resync-button]')
  assert.equal(await button.isEnabled(), true)
  await button.click()
  await waitFor('button disabled', async () => !(await button.isEnabled()), 5000)
  assert.ok(await (await button.$('.animate-spin')).isExisting(), 'the icon spins')
  assert.equal(await isShown('sync-indicator'), true)
  await waitFor('button enabled again', async () => button.isEnabled(), 15_000)
  await admin('faults/http-delay', { ms: 0 })
  assert.equal(await isShown('sync-indicator'), false)
  const afterStats = await admin('stats')
  assert.ok(afterStats.pageRequests > before.pageRequests, 'the resync fetched a page')
})

test('a message sent while the server is down shows pending, then sent', async () => {
  await stopServer()
  const input = await browser.$('[data-testid=composer-input]')
  await input.setValue('Sent while the server was down')
  await (await browser.$('[data-testid=composer-send]')).click()
  const bubble = async () => {
    const statuses = await browser.execute(() =>
      [...document.querySelectorAll('[data-testid=message]')]
        .filter(
          (m) =>
            m.querySelector('.message-content')?.textContent === 'Sent while the server was down'
        )
        .map((m) => m.dataset.status)
    )
    return statuses
  }
  await waitFor('pending bubble', async () => (await bubble()).join() === 'pending', 5000)
  // Screenshot of the chat screen with the pending message.
  await browser.executeAsync((done) =>
    requestAnimationFrame(() => requestAnimationFrame(() => done()))
  )
  mkdirSync(dirname(SCREENSHOT), { recursive: true })
  await browser.saveScreenshot(SCREENSHOT.replace(/\.png$/, '-pending.png'))

  await startServer()
  await waitFor('sent', async () => (await bubble()).join() === 'sent', 90_000)
  assert.equal((await bubble()).length, 1, 'delivered exactly once')
  await browser.executeAsync((done) =>
    requestAnimationFrame(() => requestAnimationFrame(() => done()))
  )
  await browser.saveScreenshot(SCREENSHOT)
})
