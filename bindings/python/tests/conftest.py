"""Shared fixtures: the real reference server on loopback, its admin API, recorders."""

import asyncio
import json
import os
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import chatsync

ROOT = Path(__file__).resolve().parents[3]
SETTLE_MS = 10_000


def run(coro):
    """Runs one coroutine of the bindings on a fresh asyncio loop."""
    return asyncio.run(coro)


class Server:
    """A `chatsync-server` process with seeded tickets and faults allowed."""

    def __init__(self, tickets, messages):
        binary = os.environ.get("CHATSYNC_SERVER_BIN", str(ROOT / "target" / "debug" / "chatsync-server"))
        self.process = subprocess.Popen(
            [binary, "--addr", "127.0.0.1:0", "--seed-tickets", str(tickets),
             "--seed-messages", str(messages), "--faults"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the server did not start (exit status {self.process.wait()})")
        info = json.loads(line)
        self.base_url = f"http://{info['address']}"
        self.admin_token = info["adminToken"]
        self.users = {u["role"]: u for u in info["users"]}

    def token(self, role="requester"):
        return self.users[role]["token"]

    def admin(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method,
            headers={"Authorization": f"Bearer {self.admin_token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return json.loads(raw) if raw else None

    def post_as_technician(self, chat, content):
        """Posts as the technician; returns the new message's sequence number."""
        message = self.admin("POST", "/admin/v1/messages", {
            "requestId": chat, "senderId": self.users["technician"]["id"], "content": content,
        })
        return message["sequenceNumber"]

    def stats(self):
        return self.admin("GET", "/admin/v1/stats")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def server():
    s = Server(tickets=2, messages=20)
    yield s
    s.stop()


class StaticToken(chatsync.AuthTokenProvider):
    """Always the same token; counts how often it was asked."""

    def __init__(self, token):
        self._token = token
        self.calls = 0

    def token(self, rejected):
        self.calls += 1
        return self._token


class Recorder(chatsync.SyncObserver):
    """Records every event and the thread it arrived on."""

    def __init__(self):
        self.events = []
        self.threads = set()
        self._cond = threading.Condition()

    def on_event(self, event):
        with self._cond:
            self.events.append(event)
            self.threads.add(threading.get_ident())
            self._cond.notify_all()

    def snapshot(self):
        with self._cond:
            return list(self.events)

    def wait_for(self, predicate, timeout=10.0):
        """True once `predicate(events)` holds, False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.events):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


def realtime_up(events):
    return any(e.is_connection_changed() and e.realtime_connected for e in events)


def states(events, chat):
    return [e.state for e in events if e.is_sync_state_changed() and e.request_id == chat]


def eventually(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def make_client(server, tmp_path):
    """Builds requester clients on cache files in tmp_path; closes them afterwards."""
    made = []

    def make(cache_name="cache.sqlite", token=None, adjust=None):
        config = chatsync.default_client_config(server.base_url, str(tmp_path / cache_name))
        config.gap_grace_ms = 300
        config.retry_base_ms = 200
        if adjust:
            adjust(config)
        client = chatsync.ChatSyncClient(config, token or StaticToken(server.token()))
        made.append(client)
        return client

    yield make
    for client in made:
        client.shutdown()


def cached_seqs(client, chat):
    return [m.sequence_number for m in client.get_cached_messages(chat, None) if m.sequence_number is not None]
