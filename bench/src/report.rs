//! The one table of a report: every figure next to its reference, the ratio
//! (chatsync / reference), the target and whether it was met.

use serde::Serialize;

use crate::resync::Scenario;
use crate::{BenchReport, Mode};

/// Whether a row's target was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The target was met.
    Met,
    /// The target was missed (see the section's figures and docs/performance.md).
    Missed,
    /// No target: a figure for comparison.
    Info,
}

impl Verdict {
    fn of(met: bool) -> Verdict {
        if met { Verdict::Met } else { Verdict::Missed }
    }

    fn as_str(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "MISSED",
            Verdict::Info => "-",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// `resync`, `open`, `validation`, `ingest` or `memory`.
    pub section: String,
    /// The case (scenario, chat size).
    pub case: String,
    /// What is compared.
    pub metric: String,
    /// chatsync's figure.
    pub chatsync: String,
    /// The reference's figure (minimum, blind polling, SQLite floor, raw inserts).
    pub reference: String,
    /// chatsync / reference, when both are numbers (latencies: of the p50s).
    pub ratio: Option<f64>,
    /// The target, if the row has one.
    pub target: String,
    /// Met, missed or informational.
    pub verdict: Verdict,
}

/// A row from its head (section, case, metric), its values (chatsync, reference,
/// ratio) and its target with the verdict.
fn row(
    (section, case, metric): (&str, String, &str),
    (chatsync, reference, ratio): (String, String, Option<f64>),
    (target, verdict): (&str, Verdict),
) -> Row {
    Row {
        section: section.into(),
        case,
        metric: metric.into(),
        chatsync,
        reference,
        ratio,
        target: target.into(),
        verdict,
    }
}

fn us(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} ms", v / 1000.0)
    } else {
        format!("{v:.1} µs")
    }
}

fn pair(p50: f64, p99: f64) -> String {
    format!("{} / {}", us(p50), us(p99))
}

fn cpu_pair(l: &crate::measure::Latency) -> String {
    match (l.cpu_p50_us, l.cpu_p99_us) {
        (Some(a), Some(b)) => pair(a, b),
        _ => "n/a".into(),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn rate(per_s: f64) -> String {
    format!("{:.0}/s", per_s)
}

fn size(n: i64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M msgs", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k msgs", n / 1_000),
        n => format!("{n} msgs"),
    }
}

/// One size through a language's bindings: its wall (CPU) percentiles against the Rust
/// API's on the same size, with `extra` appended to the reference; the bindings' target
/// is judged at 100k when `judged`, else the row is informational.
fn bindings_row(
    o: &crate::open::OpenReport,
    metric: &str,
    (messages, latency): (i64, &crate::measure::Latency),
    extra: &str,
    judged: bool,
) -> Row {
    let at_target = messages == 100_000;
    let rust = o.rows.iter().find(|r| r.messages == messages);
    row(
        ("open", size(messages), metric),
        (
            format!(
                "{} ({})",
                pair(latency.p50_us, latency.p99_us),
                cpu_pair(latency)
            ),
            rust.map_or_else(String::new, |r| {
                format!(
                    "Rust API {} ({}){extra}",
                    pair(r.rust_api.p50_us, r.rust_api.p99_us),
                    cpu_pair(&r.rust_api)
                )
            }),
            rust.and_then(|r| crate::measure::ratio(latency.p50_us, r.rust_api.p50_us)),
        ),
        match (at_target, judged) {
            (true, true) => (
                "p99 < 1 ms",
                Verdict::of(latency.p99_us < crate::open::TARGET_BINDINGS_P99_US),
            ),
            (true, false) => ("p99 < 1 ms: judged on Kotlin", Verdict::Info),
            _ => ("", Verdict::Info),
        },
    )
}

/// The rows of every measured section, in section order.
pub(crate) fn rows(report: &BenchReport) -> Vec<Row> {
    let mut rows = Vec::new();
    if let Some(r) = &report.resync {
        for s in &r.scenarios {
            let correct = if s.chatsync_correct {
                ""
            } else {
                " (WRONG DATA)"
            };
            let no_change = s.scenario == Scenario::NoChange;
            rows.push(row(
                (
                    "resync",
                    s.label.clone(),
                    if no_change {
                        "resync requests"
                    } else {
                        "resync vs minimum (bytes)"
                    },
                ),
                (
                    format!("{}{correct}", s.chatsync_resync.describe()),
                    format!("minimum {}", s.minimum.describe()),
                    s.bytes_vs_minimum,
                ),
                (
                    if no_change { "0 requests" } else { "<= 1.05x" },
                    Verdict::of(s.target_met && s.chatsync_correct),
                ),
            ));
            rows.push(row(
                (
                    "resync",
                    s.label.clone(),
                    &format!("session vs blind polling (open + {} ticks)", r.plan.ticks),
                ),
                (
                    s.chatsync_session.describe(),
                    format!("polling {}", s.polling_session.describe()),
                    s.session_vs_polling,
                ),
                ("", Verdict::Info),
            ));
        }
    }
    if let Some(o) = &report.open {
        for r in &o.rows {
            let at_target = r.messages == 100_000;
            let target = if at_target { "p99 < 200 µs" } else { "" };
            let verdict = |p99: Option<f64>| match (at_target, p99) {
                (true, Some(p99)) => Verdict::of(p99 < crate::open::TARGET_P99_US),
                _ => Verdict::Info,
            };
            rows.push(row(
                (
                    "open",
                    size(r.messages),
                    "open_chat first page, wall p50 / p99",
                ),
                (
                    pair(r.rust_api.p50_us, r.rust_api.p99_us),
                    format!(
                        "SQLite floor {} (step only {}); cache reads {}; the open's 2 state writes {}",
                        pair(r.sqlite_floor.p50_us, r.sqlite_floor.p99_us),
                        pair(r.sqlite_step_only.p50_us, r.sqlite_step_only.p99_us),
                        pair(r.cache_layer.p50_us, r.cache_layer.p99_us),
                        pair(r.state_writes.p50_us, r.state_writes.p99_us)
                    ),
                    r.p50_vs_floor,
                ),
                (target, verdict(Some(r.rust_api.p99_us))),
            ));
            rows.push(row(
                (
                    "open",
                    size(r.messages),
                    "open_chat first page, thread CPU p50 / p99",
                ),
                (
                    cpu_pair(&r.rust_api),
                    format!(
                        "SQLite floor {} (step only {}); cache reads {}; the open's 2 state writes {}",
                        cpu_pair(&r.sqlite_floor),
                        cpu_pair(&r.sqlite_step_only),
                        cpu_pair(&r.cache_layer),
                        cpu_pair(&r.state_writes)
                    ),
                    r.rust_api
                        .cpu_p50_us
                        .zip(r.sqlite_floor.cpu_p50_us)
                        .and_then(|(a, b)| crate::measure::ratio(a, b)),
                ),
                (target, verdict(r.rust_api.cpu_p99_us)),
            ));
        }
        let kotlin_judged = o.bindings_target_judged_on.as_deref() == Some("kotlin");
        match &o.kotlin {
            None => rows.push(row(
                (
                    "open",
                    "bindings".into(),
                    "open_chat through the Kotlin bindings (JVM)",
                ),
                (o.kotlin_status.clone(), String::new(), None),
                ("p99 < 1 ms at 100k", Verdict::Info),
            )),
            Some(k) => {
                for r in &k.rows {
                    let extra = format!(
                        "; while timed {} GC{} ({} ms), JIT {} ms; after {} + {} warm-up opens (all sizes + this one)",
                        r.gc_count,
                        if r.gc_count == 1 { "" } else { "s" },
                        r.gc_time_ms,
                        r.jit_ms,
                        k.jit_warmup,
                        k.warmup
                    );
                    rows.push(bindings_row(
                        o,
                        "open_chat through the Kotlin bindings (JVM), wall (CPU) p50 / p99",
                        (r.messages, &r.open_chat),
                        &extra,
                        true,
                    ));
                }
            }
        }
        if o.python.is_empty() {
            rows.push(row(
                (
                    "open",
                    "bindings".into(),
                    "open_chat through the Python bindings",
                ),
                (o.bindings.clone(), String::new(), None),
                (
                    if kotlin_judged {
                        ""
                    } else {
                        "p99 < 1 ms at 100k"
                    },
                    Verdict::Info,
                ),
            ));
        }
        for p in &o.python {
            rows.push(bindings_row(
                o,
                "open_chat through the Python bindings, wall (CPU) p50 / p99",
                (p.messages, &p.open_chat),
                "",
                !kotlin_judged,
            ));
        }
    }
    if let Some(v) = &report.validation {
        let last = v.rows.len().saturating_sub(1);
        for (i, r) in v.rows.iter().enumerate() {
            rows.push(row(
                (
                    "validation",
                    size(r.messages),
                    "O(1) path vs full scan: wall p50 / p99 (CPU p50 / p99)",
                ),
                (
                    format!("{} ({})", pair(r.o1.p50_us, r.o1.p99_us), cpu_pair(&r.o1)),
                    format!(
                        "full scan {} ({})",
                        pair(r.full_scan.p50_us, r.full_scan.p99_us),
                        cpu_pair(&r.full_scan)
                    ),
                    r.full_vs_o1_p50.map(|x| 1.0 / x),
                ),
                (
                    if i == last && i > 0 {
                        "O(1) flat: <= 2x the smallest"
                    } else {
                        ""
                    },
                    if i == last && i > 0 {
                        Verdict::of(v.target_met)
                    } else {
                        Verdict::Info
                    },
                ),
            ));
        }
    }
    if let Some(g) = &report.ingest {
        let case = format!("{} pushes", g.messages);
        rows.push(row(
            (
                "ingest",
                case.clone(),
                "frame -> row + callback, end to end (wall) vs raw commit-per-row",
            ),
            (
                rate(g.ingest_per_s),
                format!(
                    "raw commit-per-row {}; server posts alone {}",
                    rate(g.raw_commit_per_row_per_s),
                    rate(g.server_post_per_s)
                ),
                g.vs_raw_commit_per_row,
            ),
            (">= 0.5x", Verdict::of(g.target_met)),
        ));
        rows.push(row(
            (
                "ingest",
                case.clone(),
                "client CPU per push vs raw commit-per-row CPU per row",
            ),
            (
                format!(
                    "{} CPU/push ({} per core; server side {} CPU/push)",
                    us(g.client_cpu_per_push_us),
                    rate(1e6 / g.client_cpu_per_push_us.max(1e-9)),
                    us(g.server_cpu_per_push_us)
                ),
                format!(
                    "raw commit-per-row {} CPU/row ({} per core); the client's store_pushed alone, one commit per row: {}",
                    us(g.raw_commit_per_row_cpu_us),
                    rate(1e6 / g.raw_commit_per_row_cpu_us.max(1e-9)),
                    us(g.cache_store_pushed_per_row_cpu_us)
                ),
                g.cpu_vs_raw_commit_per_row,
            ),
            (">= 0.5x", Verdict::of(g.cpu_target_met)),
        ));
        rows.push(row(
            (
                "ingest",
                case,
                "frame -> row + callback vs raw one transaction",
            ),
            (
                rate(g.ingest_per_s),
                format!(
                    "raw one transaction {} ({} CPU/row)",
                    rate(g.raw_one_transaction_per_s),
                    us(g.raw_one_transaction_cpu_us)
                ),
                g.vs_raw_one_transaction,
            ),
            ("", Verdict::Info),
        ));
        rows.push(row(
            ("ingest", "latency".into(), "post -> callback p50 / p99"),
            (
                format!(
                    "paced {}",
                    pair(g.latency_paced.p50_us, g.latency_paced.p99_us)
                ),
                format!(
                    "under load {}",
                    pair(g.latency_under_load.p50_us, g.latency_under_load.p99_us)
                ),
                None,
            ),
            ("", Verdict::Info),
        ));
    }
    if let Some(m) = &report.memory {
        rows.push(row(
            (
                "memory",
                format!("{} chats x {}", m.chats, m.messages_per_chat),
                "peak RSS while syncing",
            ),
            (
                format!(
                    "peak {} (+{} over {})",
                    mib(m.peak_rss_bytes),
                    mib(m.peak_increase_bytes),
                    mib(m.baseline_rss_bytes)
                ),
                format!(
                    "{} requests in {:.1} s; cache file {}{}",
                    m.requests,
                    m.sync_seconds,
                    mib(m.cache_file_bytes),
                    if m.hwm_reset {
                        ""
                    } else {
                        "; peak since process start"
                    }
                ),
                None,
            ),
            ("", Verdict::Info),
        ));
        let f = &m.ffi_library;
        rows.push(row(
            ("memory", "FFI library".into(), "stripped release size"),
            (
                match (f.stripped_bytes, f.bytes) {
                    (Some(s), _) => mib(s),
                    (None, Some(b)) => format!("{} unstripped", mib(b)),
                    _ => f.status.clone(),
                },
                f.note.clone(),
                None,
            ),
            ("", Verdict::Info),
        ));
    }
    rows
}

const HEADERS: [&str; 8] = [
    "section",
    "case",
    "metric",
    "chatsync",
    "reference",
    "ratio",
    "target",
    "result",
];

fn cells(r: &Row) -> [String; 8] {
    [
        r.section.clone(),
        r.case.clone(),
        r.metric.clone(),
        r.chatsync.clone(),
        r.reference.clone(),
        r.ratio.map_or_else(|| "-".into(), ratio_text),
        if r.target.is_empty() {
            "-".into()
        } else {
            r.target.clone()
        },
        r.verdict.as_str().into(),
    ]
}

fn ratio_text(x: f64) -> String {
    if x != 0.0 && x.abs() < 0.01 {
        format!("{x:.4}x")
    } else {
        format!("{x:.2}x")
    }
}

fn heading(report: &BenchReport) -> String {
    format!(
        "chatsync benchmarks ({} run, {}), {:.0} s\nmachine: {}\nload average (1/5/15 min) at start: {}",
        match report.mode {
            Mode::Quick => "quick smoke",
            Mode::Full => "full",
        },
        report.date,
        report.elapsed_seconds,
        report.machine.summary(),
        report.load_average
    )
}

/// The plain-text table with its heading.
pub(crate) fn table(report: &BenchReport) -> String {
    let body: Vec<[String; 8]> = report.rows.iter().map(cells).collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for cells in &body {
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(c);
            if i + 1 < cells.len() {
                out.extend(std::iter::repeat_n(' ', w - c.chars().count()));
            }
        }
        out.push('\n');
        out
    };
    let mut out = heading(report);
    out.push_str("\n\n");
    out.push_str(&line(&HEADERS.map(String::from)));
    out.push_str(&line(&widths.map(|w| "-".repeat(w))));
    for cells in &body {
        out.push_str(&line(cells));
    }
    out
}

/// The table as Markdown, with its heading.
pub(crate) fn markdown(report: &BenchReport) -> String {
    let mut out = format!(
        "Measured {} ({} run) on {}; load average at start {}.\n\n",
        report.date,
        match report.mode {
            Mode::Quick => "quick smoke",
            Mode::Full => "full",
        },
        report.machine.summary(),
        report.load_average
    );
    out.push_str(&format!("| {} |\n", HEADERS.join(" | ")));
    out.push_str(&format!("|{}\n", "---|".repeat(HEADERS.len())));
    for r in &report.rows {
        let cells = cells(r).map(|c| c.replace('|', "\\|"));
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}
