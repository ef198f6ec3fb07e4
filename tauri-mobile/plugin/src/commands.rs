//! The plugin's commands (`plugin:chatsync|<name>` from JavaScript).
//!
//! Each one is a thin adapter: check the arguments, call the core, convert the
//! result to the camelCase views of `models.rs`. No sync decision is made here.

use std::collections::BTreeMap;

use chatsync::SyncState;
use chatsync::client::ChatSyncClient;
use tauri::ipc::Channel;
use tauri::{State, command};

use crate::models::*;
use crate::{ChatSync, Error, MAX_IMPORT_BATCH, Result};

fn chat_id(request_id: &str) -> Result<&str> {
    let id = request_id.trim();
    if id.is_empty() {
        return Err(Error::InvalidArgument("requestId is empty".into()));
    }
    Ok(id)
}

fn tickets(client: &ChatSyncClient, list: Vec<chatsync::TicketSummary>) -> Vec<TicketView> {
    list.into_iter()
        .map(|t| {
            let state: SyncState = client.sync_state(&t.id);
            let syncing = client.is_chat_syncing(&t.id);
            TicketView::new(t, state, syncing)
        })
        .collect()
}

/// Signs in: creates and starts the core client for `server_url` (see [`ChatSync::sign_in`]).
#[command]
pub(crate) async fn sign_in(
    state: State<'_, ChatSync>,
    server_url: String,
    token: String,
) -> Result<SessionInfo> {
    let runtime = tauri::async_runtime::handle().inner().clone();
    state.sign_in(&server_url, &token, runtime)
}

/// Signs out: clears the cache and stops all network work. Idempotent.
#[command]
pub(crate) async fn sign_out(state: State<'_, ChatSync>) -> Result<()> {
    state.sign_out().await
}

/// The cached ticket list (no network).
#[command]
pub(crate) async fn cached_tickets(state: State<'_, ChatSync>) -> Result<Vec<TicketView>> {
    let client = state.client()?;
    let list = client.cached_tickets()?;
    Ok(tickets(&client, list))
}

/// Refreshes the ticket list: metadata only (the backend sequences), never messages.
#[command]
pub(crate) async fn refresh_tickets(state: State<'_, ChatSync>) -> Result<Vec<TicketView>> {
    let client = state.client()?;
    let list = client.refresh_tickets().await?;
    Ok(tickets(&client, list))
}

/// Opens a chat and returns its cached messages at once (no network wait).
#[command]
pub(crate) async fn open_chat(
    state: State<'_, ChatSync>,
    request_id: String,
) -> Result<OpenedChatView> {
    let client = state.client()?;
    Ok(client.open_chat(chat_id(&request_id)?)?.into())
}

/// Closes a chat (it stops fetching).
#[command]
pub(crate) async fn close_chat(state: State<'_, ChatSync>, request_id: String) -> Result<()> {
    let client = state.client()?;
    client.close_chat(chat_id(&request_id)?);
    Ok(())
}

/// The cached messages of a chat, oldest first; `limit` keeps only the newest ones.
#[command]
pub(crate) async fn get_cached_messages(
    state: State<'_, ChatSync>,
    request_id: String,
    limit: Option<u32>,
) -> Result<Vec<MessageView>> {
    let client = state.client()?;
    let list = client.get_cached_messages(chat_id(&request_id)?, limit)?;
    Ok(list.into_iter().map(Into::into).collect())
}

/// The chat's recorded history gaps.
#[command]
pub(crate) async fn history_gaps(
    state: State<'_, ChatSync>,
    request_id: String,
) -> Result<Vec<RangeView>> {
    let client = state.client()?;
    Ok(ranges(client.history_gaps(chat_id(&request_id)?)?))
}

/// Resyncs the chat if it is OUT_OF_SYNC; resolves when the run ends.
#[command]
pub(crate) async fn resync(state: State<'_, ChatSync>, request_id: String) -> Result<MetaView> {
    let client = state.client()?;
    Ok(client.resync(chat_id(&request_id)?).await?.into())
}

/// Always resyncs the chat (the header button); resolves when the run ends.
#[command]
pub(crate) async fn manual_resync(
    state: State<'_, ChatSync>,
    request_id: String,
) -> Result<MetaView> {
    let client = state.client()?;
    Ok(client.manual_resync(chat_id(&request_id)?).await?.into())
}

/// Fetches one page of earlier messages into the newest history gap.
#[command]
pub(crate) async fn load_earlier(
    state: State<'_, ChatSync>,
    request_id: String,
) -> Result<LoadEarlierView> {
    let client = state.client()?;
    Ok(client.load_earlier(chat_id(&request_id)?).await?.into())
}

/// Queues a message durably; returns it as pending. Delivery continues in the core.
#[command]
pub(crate) async fn send_message(
    state: State<'_, ChatSync>,
    request_id: String,
    content: String,
) -> Result<MessageView> {
    let client = state.client()?;
    if content.trim().is_empty() {
        return Err(Error::InvalidArgument("the message is empty".into()));
    }
    Ok(client
        .send_message(chat_id(&request_id)?, &content)
        .await?
        .into())
}

/// Retries delivery of a failed outgoing message.
#[command]
pub(crate) async fn retry_send(
    state: State<'_, ChatSync>,
    request_id: String,
    client_temp_id: String,
) -> Result<()> {
    let client = state.client()?;
    if client_temp_id.trim().is_empty() {
        return Err(Error::InvalidArgument("clientTempId is empty".into()));
    }
    Ok(client
        .retry_send(chat_id(&request_id)?, client_temp_id.trim())
        .await?)
}

/// The platform's connectivity changed (the webview's `online` / `offline`).
#[command]
pub(crate) async fn connectivity_changed(state: State<'_, ChatSync>, online: bool) -> Result<()> {
    let client = state.client()?;
    if online {
        client.on_connectivity_restored();
    } else {
        client.on_connectivity_lost();
    }
    Ok(())
}

/// The app came back to the foreground: revalidate metadata.
#[command]
pub(crate) async fn app_resumed(state: State<'_, ChatSync>) -> Result<()> {
    state.client()?.on_app_resume();
    Ok(())
}

/// Imports messages of the legacy IndexedDB cache: the server messages (those with
/// a sequence number) are stored per chat like a fetched page (checked, then
/// upserted: repeating an import changes nothing); local-only ones are skipped.
#[command]
pub(crate) async fn import_legacy_messages(
    state: State<'_, ChatSync>,
    messages: Vec<MessageView>,
) -> Result<ImportReport> {
    let client = state.client()?;
    import_into(&client, messages)
}

/// The import itself: groups by chat, one checked upsert per chat.
pub(crate) fn import_into(
    client: &ChatSyncClient,
    messages: Vec<MessageView>,
) -> Result<ImportReport> {
    const MAX_ERRORS: usize = 10;
    if messages.len() > MAX_IMPORT_BATCH {
        return Err(Error::InvalidArgument(format!(
            "{} messages in one import (at most {MAX_IMPORT_BATCH})",
            messages.len()
        )));
    }
    let mut report = ImportReport::default();
    let mut chats: BTreeMap<String, Vec<chatsync::ChatMessage>> = BTreeMap::new();
    for view in messages {
        if view.sequence_number.is_none() {
            report.skipped += 1;
            continue;
        }
        let mut message: chatsync::ChatMessage = view.into();
        // Whatever the old cache said, a message with a sequence is the server's.
        message.status = chatsync::MessageStatus::Sent;
        chats
            .entry(message.request_id.clone())
            .or_default()
            .push(message);
    }
    for (request_id, batch) in chats {
        match client.import_messages(&request_id, &batch) {
            Ok(_) => report.imported += batch.len(),
            Err(error) => {
                report.rejected += batch.len();
                if report.errors.len() < MAX_ERRORS {
                    report.errors.push(format!(
                        "chat {request_id:?} ({} messages): {error}",
                        batch.len()
                    ));
                }
            }
        }
    }
    Ok(report)
}

/// Subscribes `channel` to one chat's (`request_id`) or every chat's changes.
#[command]
pub(crate) async fn subscribe(
    state: State<'_, ChatSync>,
    request_id: Option<String>,
    channel: Channel<SyncEventView>,
) -> Result<u32> {
    state.subscribe(request_id, channel)
}

/// Drops a subscription; an unknown id is not an error.
#[command]
pub(crate) async fn unsubscribe(state: State<'_, ChatSync>, id: u32) -> Result<()> {
    state.unsubscribe(id);
    Ok(())
}
