//! Forwarding the core's `tracing` logs to a platform [`LogSink`] (Logcat, os_log,
//! the Python console) with a level filter.
//!
//! `set_log_sink` installs, once per process, a global `tracing` subscriber that
//! forwards every event at or above the chosen level to the sink, on the thread
//! that logged it. Spans are not recorded. The core never logs tokens; the
//! forwarding adds nothing but the event's target, text and fields.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

use crate::error::{CallbackError, ChatSyncError};

/// Severity of a log record, most severe first. As a filter, a level lets through
/// records of that level and every more severe one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    /// Failures.
    Error,
    /// Unexpected but handled situations.
    Warn,
    /// Notable events (connections, resyncs).
    Info,
    /// Details for debugging.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    fn rank(self) -> u8 {
        match self {
            LogLevel::Error => 1,
            LogLevel::Warn => 2,
            LogLevel::Info => 3,
            LogLevel::Debug => 4,
            LogLevel::Trace => 5,
        }
    }

    fn of(level: &Level) -> LogLevel {
        match *level {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            Level::DEBUG => LogLevel::Debug,
            _ => LogLevel::Trace,
        }
    }
}

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogRecord {
    /// Its severity.
    pub level: LogLevel,
    /// Where it comes from (a Rust module path such as `chatsync::client::driver`).
    pub target: String,
    /// The text, followed by its fields as ` key=value`.
    pub text: String,
}

/// Receives the core's log records (see `set_log_sink`). Called on the thread
/// that logged (a Rust runtime or dispatch thread); keep it quick. Logging from
/// inside the sink through the core is ignored (no recursion).
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    /// One record at or above the configured level.
    fn log(&self, record: LogRecord) -> Result<(), CallbackError>;
}

/// 0 = off; otherwise the rank of the most verbose level let through.
static MAX_RANK: AtomicU8 = AtomicU8::new(0);
static SINK: RwLock<Option<Arc<dyn LogSink>>> = RwLock::new(None);
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

thread_local! {
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Forwards the core's logs at `max_level` and above to `sink`, replacing any
/// earlier sink. Throws `InvalidArgument` when the process already has another
/// global `tracing` subscriber (then that one receives the logs).
#[uniffi::export]
pub fn set_log_sink(sink: Arc<dyn LogSink>, max_level: LogLevel) -> Result<(), ChatSyncError> {
    let installed = INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(SinkSubscriber).map_err(|_| {
            "another global tracing subscriber is installed in this process".to_string()
        })
    });
    if let Err(reason) = installed {
        return Err(ChatSyncError::InvalidArgument(format!(
            "invalid argument: cannot forward logs: {reason}"
        )));
    }
    *SINK.write().unwrap_or_else(PoisonError::into_inner) = Some(sink);
    set_log_level(max_level);
    Ok(())
}

/// Changes the level filter of the installed sink.
#[uniffi::export]
pub fn set_log_level(max_level: LogLevel) {
    MAX_RANK.store(max_level.rank(), Ordering::Relaxed);
    tracing::callsite::rebuild_interest_cache();
}

/// Stops forwarding logs and releases the sink.
#[uniffi::export]
pub fn clear_log_sink() {
    MAX_RANK.store(0, Ordering::Relaxed);
    *SINK.write().unwrap_or_else(PoisonError::into_inner) = None;
    tracing::callsite::rebuild_interest_cache();
}

fn level_enabled(level: &Level) -> bool {
    LogLevel::of(level).rank() <= MAX_RANK.load(Ordering::Relaxed)
}

/// The global subscriber: events only, filtered by [`MAX_RANK`], sent to [`SINK`].
struct SinkSubscriber;

impl Subscriber for SinkSubscriber {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // The level can change at run time: ask `enabled` every time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && level_enabled(metadata.level())
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        use tracing::level_filters::LevelFilter;
        Some(match MAX_RANK.load(Ordering::Relaxed) {
            0 => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        // Never called: `enabled` refuses spans. Any non-zero id is valid.
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        if IN_SINK.with(Cell::get) {
            return;
        }
        let metadata = event.metadata();
        if !level_enabled(metadata.level()) {
            return;
        }
        let Some(sink) = SINK.read().unwrap_or_else(PoisonError::into_inner).clone() else {
            return;
        };
        let mut text = TextVisitor::default();
        event.record(&mut text);
        let record = LogRecord {
            level: LogLevel::of(metadata.level()),
            target: metadata.target().to_string(),
            text: text.finish(),
        };
        IN_SINK.with(|flag| flag.set(true));
        // A failing sink cannot be reported through itself; the record is dropped.
        let _ = sink.log(record);
        IN_SINK.with(|flag| flag.set(false));
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// Renders an event as its message followed by ` key=value` fields.
#[derive(Default)]
struct TextVisitor {
    message: String,
    fields: String,
}

impl TextVisitor {
    fn finish(self) -> String {
        let mut text = self.message;
        text.push_str(&self.fields);
        text
    }
}

impl Visit for TextVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}
