//! `tauri-plugin-chatsync`: the chatsync core inside a Tauri 2 app.
//!
//! The webview never runs SQL and holds no sync logic. It calls this plugin's
//! commands (see `guest-js/index.ts` for the typed API and `permissions/` for the
//! ACL) and receives state changes through one long-lived
//! [`tauri::ipc::Channel`] per subscription, with an explicit `unsubscribe`.
//!
//! State: one [`ChatSync`] is managed by the app; it holds the session (a
//! [`chatsync::client::ChatSyncClient`] created by `sign_in`, with its SQLite
//! cache in the app data dir, one file per server) and the live subscriptions.
//!
//! Lifecycle: the webview's `visibilitychange` / `online` / `offline` events
//! reach the core through `app_resumed` / `connectivity_changed`. On mobile the
//! plugin also forwards Tauri's `RunEvent::Resumed` as a best-effort hint (see
//! `mobile.rs` and the README's "lifecycle gap"). On exit the client is shut down.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use chatsync::client::{ChatSyncClient, ClientConfig};
use chatsync::net::api::StaticToken;
use chatsync::observe::Subscription;
use tauri::ipc::Channel;
use tauri::plugin::TauriPlugin;
use tauri::{Manager, Runtime};

mod commands;
#[cfg(desktop)]
mod desktop;
mod error;
#[cfg(mobile)]
mod mobile;
mod models;

#[cfg(desktop)]
use desktop as platform;
#[cfg(mobile)]
use mobile as platform;

pub use error::{Error, Result};
pub use models::*;

/// The most messages one `import_legacy_messages` call accepts.
pub const MAX_IMPORT_BATCH: usize = 50_000;

/// One signed-in session: the core client and what it is connected to.
pub struct Session {
    client: Arc<ChatSyncClient>,
    info: SessionInfo,
}

impl Session {
    /// The core client of this session.
    pub fn client(&self) -> &Arc<ChatSyncClient> {
        &self.client
    }

    /// What the session is connected to.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }
}

struct LiveSubscription {
    /// Dropping it unsubscribes from the core.
    _subscription: Subscription,
    /// Set when the channel could not deliver (the webview went away).
    dead: Arc<AtomicBool>,
}

/// The plugin's managed state: the session and the channel subscriptions.
///
/// All methods are safe to call from any thread; none panics on input.
pub struct ChatSync {
    cache_dir: std::result::Result<PathBuf, String>,
    session: RwLock<Option<Arc<Session>>>,
    subscriptions: Mutex<HashMap<u32, LiveSubscription>>,
    next_subscription: AtomicU32,
}

impl ChatSync {
    /// A state whose cache files go to `cache_dir` (or the error explaining why
    /// there is none; `sign_in` then fails with it).
    pub fn new(cache_dir: std::result::Result<PathBuf, String>) -> ChatSync {
        ChatSync {
            cache_dir,
            session: RwLock::new(None),
            subscriptions: Mutex::new(HashMap::new()),
            next_subscription: AtomicU32::new(1),
        }
    }

    /// The current session, or `Error::NotSignedIn`.
    pub fn session(&self) -> Result<Arc<Session>> {
        self.session
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
            .ok_or(Error::NotSignedIn)
    }

    /// The current session's client, or `Error::NotSignedIn`.
    pub fn client(&self) -> Result<Arc<ChatSyncClient>> {
        Ok(Arc::clone(&self.session()?.client))
    }

    /// Creates the core client for `server_url` with `token`, starts it, and makes
    /// it the session (a previous session is shut down and its subscriptions are
    /// dropped). The cache file is `<cache dir>/<server>.sqlite`.
    pub fn sign_in(
        &self,
        server_url: &str,
        token: &str,
        runtime: tokio::runtime::Handle,
    ) -> Result<SessionInfo> {
        let server_url = normalize_server_url(server_url)?;
        if token.trim().is_empty() {
            return Err(Error::InvalidArgument("the token is empty".into()));
        }
        let dir = self.cache_dir.clone().map_err(Error::CacheDir)?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::CacheDir(format!("{}: {e}", dir.display())))?;
        let cache_path = dir.join(cache_file_name(&server_url));
        let config = ClientConfig::new(server_url.clone(), Some(cache_path.clone()));
        let client = ChatSyncClient::with_runtime(
            config,
            Arc::new(StaticToken(token.trim().to_string())),
            runtime,
        )?;
        let client = Arc::new(client);
        client.start();
        let info = SessionInfo {
            server_url,
            cache_path: cache_path.display().to_string(),
        };
        let previous = self
            .session
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .replace(Arc::new(Session {
                client,
                info: info.clone(),
            }));
        self.clear_subscriptions();
        if let Some(previous) = previous {
            previous.client.shutdown();
        }
        Ok(info)
    }

    /// Ends the session: drops every subscription, then the core clears the cache
    /// and stops all network work. Idempotent (no session: nothing to do).
    pub async fn sign_out(&self) -> Result<()> {
        let session = self
            .session
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        self.clear_subscriptions();
        if let Some(session) = session {
            session.client.sign_out().await?;
            session.client.shutdown();
        }
        Ok(())
    }

    /// Subscribes `channel` to the core's events for one chat (`Some`) or all chats.
    /// The channel first receives the core's snapshot (sync state and syncing flag),
    /// then every later change in order. Returns the id for [`ChatSync::unsubscribe`].
    pub fn subscribe(
        &self,
        request_id: Option<String>,
        channel: Channel<SyncEventView>,
    ) -> Result<u32> {
        let client = self.client()?;
        if let Some(id) = &request_id
            && id.trim().is_empty()
        {
            return Err(Error::InvalidArgument("requestId is empty".into()));
        }
        self.prune_dead();
        let dead = Arc::new(AtomicBool::new(false));
        let observer_dead = Arc::clone(&dead);
        // A weak link: the client holds the observer, so a strong one would be a cycle.
        let weak: Weak<ChatSyncClient> = Arc::downgrade(&client);
        let observer = Arc::new(move |event| {
            let view = SyncEventView::from_event(event, |id| match weak.upgrade() {
                Some(client) => (client.sync_state(id), client.is_chat_syncing(id)),
                None => (chatsync::SyncState::Unknown, false),
            });
            if let Err(error) = channel.send(view) {
                tracing::warn!("chatsync channel closed: {error}");
                observer_dead.store(true, Ordering::Relaxed);
            }
        });
        let subscription = client.subscribe(observer, request_id);
        let id = self.next_subscription.fetch_add(1, Ordering::Relaxed);
        self.lock_subscriptions().insert(
            id,
            LiveSubscription {
                _subscription: subscription,
                dead,
            },
        );
        Ok(id)
    }

    /// Drops the subscription `id` (the core stops delivering to its channel).
    /// Returns false when there is no such subscription (already gone): not an error,
    /// so a late unsubscribe after a sign-out is harmless.
    pub fn unsubscribe(&self, id: u32) -> bool {
        self.lock_subscriptions().remove(&id).is_some()
    }

    /// Number of live subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.lock_subscriptions().len()
    }

    /// Stops the session's network work (app exit). The session stays for a restart.
    pub fn shutdown(&self) {
        if let Ok(session) = self.session() {
            session.client.shutdown();
        }
    }

    fn lock_subscriptions(&self) -> std::sync::MutexGuard<'_, HashMap<u32, LiveSubscription>> {
        self.subscriptions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn clear_subscriptions(&self) {
        // Drop outside the lock: dropping a core Subscription takes the core's lock.
        let drained: Vec<LiveSubscription> =
            self.lock_subscriptions().drain().map(|(_, s)| s).collect();
        drop(drained);
    }

    fn prune_dead(&self) {
        let dead: Vec<LiveSubscription> = {
            let mut subscriptions = self.lock_subscriptions();
            let ids: Vec<u32> = subscriptions
                .iter()
                .filter(|(_, s)| s.dead.load(Ordering::Relaxed))
                .map(|(id, _)| *id)
                .collect();
            ids.iter()
                .filter_map(|id| subscriptions.remove(id))
                .collect()
        };
        drop(dead);
    }
}

/// Checks and normalizes a server URL: `http` or `https`, a host, no query or
/// fragment; the trailing slash is removed.
pub fn normalize_server_url(raw: &str) -> Result<String> {
    let trimmed = raw.trim();
    let url = tauri::Url::parse(trimmed)
        .map_err(|e| Error::InvalidArgument(format!("server URL {trimmed:?}: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(Error::InvalidArgument(format!(
            "server URL {trimmed:?}: only http and https are supported"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidArgument(format!(
            "server URL {trimmed:?} has no host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::InvalidArgument(format!(
            "server URL {trimmed:?}: no query or fragment allowed"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The cache file name of a server: its URL with every character outside
/// `[A-Za-z0-9.-]` replaced by `_`, so each server has its own cache.
pub fn cache_file_name(server_url: &str) -> String {
    let stem: String = server_url
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("chatsync-{stem}.sqlite")
}

/// Access to the plugin's state from an `App`, `AppHandle`, `Window` or `Webview`.
pub trait ChatSyncExt<R: Runtime> {
    /// The managed [`ChatSync`].
    fn chatsync(&self) -> &ChatSync;
}

impl<R: Runtime, T: Manager<R>> ChatSyncExt<R> for T {
    fn chatsync(&self) -> &ChatSync {
        self.state::<ChatSync>().inner()
    }
}

/// Configures the plugin before it is added to the app.
#[derive(Debug, Default)]
pub struct Builder {
    cache_dir: Option<PathBuf>,
}

impl Builder {
    /// The default: the cache lives in the app data dir (`<app data>/chatsync/`).
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Puts the cache files in `dir` instead (tests, portable installs).
    pub fn cache_dir(mut self, dir: impl AsRef<Path>) -> Builder {
        self.cache_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Builds the plugin.
    pub fn build<R: Runtime>(self) -> TauriPlugin<R> {
        let cache_dir = self.cache_dir;
        tauri::plugin::Builder::new("chatsync")
            .invoke_handler(tauri::generate_handler![
                commands::sign_in,
                commands::sign_out,
                commands::cached_tickets,
                commands::refresh_tickets,
                commands::open_chat,
                commands::close_chat,
                commands::get_cached_messages,
                commands::history_gaps,
                commands::resync,
                commands::manual_resync,
                commands::load_earlier,
                commands::send_message,
                commands::retry_send,
                commands::connectivity_changed,
                commands::app_resumed,
                commands::import_legacy_messages,
                commands::subscribe,
                commands::unsubscribe,
            ])
            .setup(move |app, _api| {
                let dir = match cache_dir {
                    Some(dir) => Ok(dir),
                    None => app
                        .path()
                        .app_data_dir()
                        .map(|d| d.join("chatsync"))
                        .map_err(|e| format!("no app data dir: {e}")),
                };
                app.manage(ChatSync::new(dir));
                Ok(())
            })
            .on_event(|app, event| {
                if let Some(signal) = platform::lifecycle_signal(event) {
                    let state = app.chatsync();
                    match signal {
                        platform::LifecycleSignal::Resumed => {
                            if let Ok(client) = state.client() {
                                client.on_app_resume();
                            }
                        }
                        platform::LifecycleSignal::Exit => state.shutdown(),
                    }
                }
            })
            .build()
    }
}

/// The plugin with the default configuration.
pub fn init<R: Runtime>() -> TauriPlugin<R> {
    Builder::new().build()
}

#[cfg(test)]
mod tests;
