//! Starting, controlling and stopping a server instance in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::{Role, ServerConfig};
use crate::error::ServerError;
use crate::faults::FaultController;
use crate::http::{AppState, check_client_temp_id, check_content};
use crate::hub::{self, Hub};
use crate::stats::{Stats, StatsSnapshot};
use crate::store::{PostOutcome, RestoreOutcome, Store, random_token};
use crate::wire::History;

/// A user of a running server, with their token (what the startup line lists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    /// User id.
    pub id: String,
    /// Requester or technician.
    pub role: Role,
    /// Display name.
    pub full_name: String,
    /// Bearer token.
    pub token: String,
}

/// Entry point: `Server::start(config)`.
#[derive(Debug)]
pub struct Server;

/// A listening server. Dropping it stops it (without waiting); call
/// [`RunningServer::shutdown`] to stop it gracefully.
pub struct RunningServer {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    dispatcher: JoinHandle<()>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Opens the database, creates users and seed data, binds `config.addr` and starts
    /// serving. When this returns, the server accepts connections at
    /// [`RunningServer::addr`]. Seed data is written only into a database without tickets.
    pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
        let stats = Arc::new(Stats::default());
        let (changes_tx, changes_rx) = mpsc::unbounded_channel();
        let db = config.db.clone();
        let users = config.users.clone();
        let seed = config.seed.clone();
        let store = tokio::task::spawn_blocking(move || -> Result<Store, ServerError> {
            let store = Store::open(db.as_deref(), &users, changes_tx)?;
            if seed.tickets > 0 {
                if store.ticket_count()? > 0 {
                    tracing::info!("database already has tickets; seed data not added");
                } else {
                    let all = store.users();
                    let requester = all.all().find(|u| u.role == Role::Requester);
                    let technician = all.all().find(|u| u.role == Role::Technician);
                    let (Some(requester), Some(technician)) = (requester, technician) else {
                        return Err(ServerError::Config(
                            "seeding needs at least one requester and one technician".into(),
                        ));
                    };
                    let started = std::time::Instant::now();
                    let tickets = crate::seed::generate(&seed, crate::store::now_ms());
                    let generated_ms = started.elapsed().as_millis() as u64;
                    store.insert_seed(&tickets, &requester.id, &technician.id)?;
                    tracing::info!(
                        tickets = seed.tickets,
                        messages_per_ticket = seed.messages_per_ticket,
                        generated_ms,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "seed data written"
                    );
                }
            }
            Ok(store)
        })
        .await
        .map_err(|e| ServerError::Task(e.to_string()))??;
        let store = Arc::new(store);
        let admin_token = if config.faults_allowed {
            Some(config.admin_token.clone().unwrap_or_else(random_token))
        } else {
            None
        };
        let hub = Arc::new(Hub::new(config.ws.clone(), stats.clone()));
        let faults = FaultController::default();
        let state = Arc::new(AppState {
            users: store.users(),
            store,
            hub: hub.clone(),
            faults: faults.clone(),
            stats,
            admin_token,
        });
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr()?;
        let dispatcher = tokio::spawn(hub::dispatch(changes_rx, hub, faults));
        let app = crate::http::router(state.clone());
        let (stop, mut stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.wait_for(|stop| *stop).await;
                })
                .await
        });
        tracing::info!(%addr, "chatsync-server listening");
        Ok(RunningServer {
            addr,
            state,
            stop,
            task: Some(task),
            dispatcher,
        })
    }
}

impl RunningServer {
    /// The bound address (the real port when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://IP:PORT/api/v1/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/api/v1/ws", self.addr)
    }

    /// Every user with their token: configured users first, in configuration order.
    pub fn users(&self) -> Vec<UserInfo> {
        self.state
            .users
            .all()
            .map(|u| UserInfo {
                id: u.id.clone(),
                role: u.role,
                full_name: u.full_name.clone(),
                token: u.token.clone(),
            })
            .collect()
    }

    /// The user with this id.
    pub fn user(&self, id: &str) -> Option<UserInfo> {
        self.users().into_iter().find(|u| u.id == id)
    }

    /// The first user of this role (the seed data's party of that side).
    pub fn first_user(&self, role: Role) -> Option<UserInfo> {
        self.users().into_iter().find(|u| u.role == role)
    }

    /// The admin token; `Some` exactly when faults are allowed.
    pub fn admin_token(&self) -> Option<&str> {
        self.state.admin_token.as_deref()
    }

    /// The instance's fault controls (work whether or not `faults_allowed` is set).
    pub fn faults(&self) -> FaultController {
        self.state.faults.clone()
    }

    /// A copy of the counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.state.stats.snapshot()
    }

    /// Sets every counter to zero.
    pub fn reset_stats(&self) {
        self.state.stats.reset();
    }

    /// Closes every WebSocket connection (close code 1012); clients may reconnect at once.
    pub fn disconnect_all_websockets(&self) {
        self.state.hub.disconnect_all();
    }

    /// Open WebSocket connections right now.
    pub fn websocket_connections(&self) -> usize {
        self.state.hub.connection_count()
    }

    /// Simulates a restore from a backup: deletes the ticket's messages above `up_to_seq`
    /// (the next post gets `up_to_seq + 1` again), clamps read pointers, gives the ticket
    /// a new history epoch, and pushes `ticket.updated`. Returns how many messages were
    /// removed (0 if `up_to_seq` is not below the ticket's last sequence; then nothing
    /// changed). [`RunningServer::restore_ticket_outcome`] also returns the new history.
    pub async fn restore_ticket(
        &self,
        ticket_id: &str,
        up_to_seq: i64,
    ) -> Result<u64, ServerError> {
        Ok(self
            .restore_ticket_outcome(ticket_id, up_to_seq)
            .await?
            .removed)
    }

    /// [`RunningServer::restore_ticket`], returning what the admin endpoint answers:
    /// messages removed, the last sequence and the history afterwards, all read in the
    /// restore's transaction.
    pub async fn restore_ticket_outcome(
        &self,
        ticket_id: &str,
        up_to_seq: i64,
    ) -> Result<RestoreOutcome, ServerError> {
        let id = ticket_id.to_string();
        self.state
            .blocking(move |s| s.restore(&id, up_to_seq))
            .await
    }

    /// The ticket's current history epoch, previous epoch and kept-through sequence
    /// (`docs/protocol.md` section 4.3), ignoring faults.
    pub async fn ticket_history(&self, ticket_id: &str) -> Result<History, ServerError> {
        let id = ticket_id.to_string();
        self.state.blocking(move |s| s.history(&id)).await
    }

    /// Posts as `user_id` through the same path as `POST .../messages` (validation,
    /// sequence assignment, idempotency by `client_temp_id`, pushes).
    pub async fn post_message(
        &self,
        ticket_id: &str,
        user_id: &str,
        content: &str,
        client_temp_id: Option<&str>,
    ) -> Result<PostOutcome, ServerError> {
        check_content(content)?;
        if let Some(id) = client_temp_id {
            check_client_temp_id(id)?;
        }
        if self.state.users.get(user_id).is_none() {
            return Err(ServerError::NotFound(format!("user {user_id:?} not found")));
        }
        let (ticket, user, content) = (
            ticket_id.to_string(),
            user_id.to_string(),
            content.to_string(),
        );
        let temp = client_temp_id.map(str::to_string);
        let outcome = self
            .state
            .blocking(move |s| s.post(&user, &ticket, &content, temp.as_deref()))
            .await?;
        if outcome.created {
            Stats::add(&self.state.stats.messages_created, 1);
        }
        Ok(outcome)
    }

    /// Creates an empty ticket (status `open`) and returns its id (a new UUID).
    pub async fn create_ticket(
        &self,
        title: &str,
        requester_id: &str,
        technician_id: &str,
    ) -> Result<String, ServerError> {
        let (title, r, t) = (
            title.to_string(),
            requester_id.to_string(),
            technician_id.to_string(),
        );
        self.state
            .blocking(move |s| s.create_ticket(None, &title, &r, &t))
            .await
    }

    /// Every ticket id, in creation order (seed tickets first, in seed order).
    pub async fn ticket_ids(&self) -> Result<Vec<String>, ServerError> {
        self.state.blocking(|s| s.ticket_ids()).await
    }

    /// The ticket's highest sequence (0 when empty), ignoring faults.
    pub async fn last_sequence(&self, ticket_id: &str) -> Result<i64, ServerError> {
        let id = ticket_id.to_string();
        self.state.blocking(move |s| s.last_sequence(&id)).await
    }

    /// The one JSON line printed on stdout once listening:
    /// `{"address": "IP:PORT", "users": [{"id", "role", "fullName", "token"}], "adminToken": ... | null}`.
    pub fn startup_line(&self) -> String {
        startup_line(self.addr, &self.users(), self.admin_token())
    }

    /// Stops accepting, closes WebSockets, finishes in-flight requests (at most 5 s) and
    /// returns once the listener is closed.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        let _ = self.stop.send(true);
        self.state.hub.disconnect_all();
        if let Some(mut task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
                Ok(Ok(result)) => result?,
                Ok(Err(join)) => return Err(ServerError::Task(join.to_string())),
                Err(_) => {
                    tracing::warn!("graceful shutdown timed out; aborting connections");
                    task.abort();
                }
            }
        }
        self.dispatcher.abort();
        Ok(())
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.state.hub.disconnect_all();
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.dispatcher.abort();
    }
}

/// JSON with `": "` and `", "` separators, as in the issue's startup line.
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }
}

/// Builds the startup line (no trailing newline):
/// `{"address": "127.0.0.1:PORT", "users": [{"id": ..., "role": ..., "fullName": ..., "token": ...}], "adminToken": "..." | null}`.
pub fn startup_line(addr: SocketAddr, users: &[UserInfo], admin_token: Option<&str>) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Line<'a> {
        address: String,
        users: &'a [UserInfo],
        admin_token: Option<&'a str>,
    }
    let line = Line {
        address: addr.to_string(),
        users,
        admin_token,
    };
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, Spaced);
    if line.serialize(&mut serializer).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_startup_line_has_the_issue_format() {
        let users = vec![UserInfo {
            id: "u1".into(),
            role: Role::Technician,
            full_name: "Sam \"Fix\" Ortega".into(),
            token: "t1".into(),
        }];
        let addr: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        assert_eq!(
            startup_line(addr, &users, None),
            r#"{"address": "127.0.0.1:4321", "users": [{"id": "u1", "role": "technician", "fullName": "Sam \"Fix\" Ortega", "token": "t1"}], "adminToken": null}"#
        );
        let two = [users[0].clone(), users[0].clone()];
        let line = startup_line(addr, &two, Some("adm"));
        assert!(
            line.contains("}, {") && line.ends_with(r#""adminToken": "adm"}"#),
            "{line}"
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["users"][1]["fullName"], "Sam \"Fix\" Ortega");
    }
}
