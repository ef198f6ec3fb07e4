"""chatsync: deterministic, sequence-based chat sync (the Rust core, through UniFFI).

Everything of the generated `chatsync_ffi` module is re-exported here: the
`ChatSyncClient` object, the records and enums (`ChatMessage`, `SyncState`, ...),
`ChatSyncError`, the foreign traits to implement (`SyncObserver`,
`AuthTokenProvider`, `LegacyMessageCache`, `LogSink`) and the free functions
(`default_client_config`, `set_log_sink`, ...). Async methods are coroutines; await
them from any asyncio loop.
"""

from .chatsync_ffi import *  # noqa: F401,F403
from .chatsync_ffi import __all__  # noqa: F401
