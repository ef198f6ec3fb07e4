//! `chatsync serve` and `chatsync demo` as real processes.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

#[test]
fn serve_prints_exactly_one_json_line_serves_clients_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("a directory");
    let db = dir.path().join("server.sqlite");
    let mut child = Command::new(bin())
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--db",
            &db.to_string_lossy(),
            "--seed-tickets",
            "2",
            "--seed-messages",
            "4",
            "--requester-token",
            TOKEN,
        ])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the startup line");
    let startup: Value = serde_json::from_str(&line).expect("the startup line is JSON");
    let address = startup["address"].as_str().expect("address").to_string();
    assert!(address.starts_with("127.0.0.1:"), "{startup}");
    let users = startup["users"].as_array().expect("users");
    assert!(
        users
            .iter()
            .any(|u| u["token"] == TOKEN && u["role"] == "requester")
    );
    assert_eq!(startup["adminToken"], Value::Null, "no --faults");

    // A client process against the served process.
    let cache = dir.path().join("c.sqlite");
    let run = client_at(&format!("http://{address}"), &cache, &["--json", "tickets"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let tickets = run.json()["tickets"].as_array().expect("tickets").clone();
    assert_eq!(tickets.len(), 2);
    assert!(tickets.iter().all(|t| t["lastMessageSequence"] == 4));
    let chat = tickets[0]["id"].as_str().expect("id").to_string();
    let run = client_at(
        &format!("http://{address}"),
        &cache,
        &["--json", "open", &chat],
    );
    assert_eq!(run.json()["state"], "SYNCED");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(exit.code(), Some(0), "a clean exit");
    let mut rest = String::new();
    stdout
        .read_to_string(&mut rest)
        .expect("the rest of stdout");
    assert_eq!(rest, "", "exactly one line on stdout");
    assert!(db.exists(), "the database file was used");
}

#[test]
fn demo_json_passes_every_step_from_real_observations() {
    let started = Instant::now();
    let run = chatsync(&["demo", "--json"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let lines = run.json_lines();
    let (steps, rest): (Vec<&Value>, Vec<&Value>) =
        lines.iter().partition(|l| l.get("step").is_some());
    assert_eq!(steps.len(), 9, "{lines:?}");
    for (i, step) in steps.iter().enumerate() {
        assert_eq!(step["step"], i + 1);
        assert!(step["name"].as_str().is_some_and(|n| !n.is_empty()));
        assert_eq!(step["result"], "PASS", "{step}");
        let checks = step["details"]["checks"].as_array().expect("checks");
        assert!(!checks.is_empty(), "{step}");
        assert!(checks.iter().all(|c| c["ok"] == true), "{step}");
        assert!(
            step["details"]["server"].is_object(),
            "server counters: {step}"
        );
    }
    assert_eq!(rest.len(), 1, "one summary");
    let summary = rest[0];
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["result"], "PASS");
    assert_eq!(summary["passed"], 9);
    assert_eq!(summary["failed"], 0);
    // Specific observations behind the verdicts.
    assert_eq!(steps[0]["details"]["server"]["pageRequests"], 0);
    assert_eq!(steps[2]["details"]["server"]["pageRequests"], 0);
    assert_eq!(steps[3]["details"]["server"]["messagesReturned"], 1);
    assert_eq!(steps[4]["details"]["server"]["pageRequests"], 0);
    assert_eq!(steps[8]["details"]["server"]["messagesCreated"], 1);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the demo stays short"
    );
}

#[test]
fn demo_human_output_says_what_happened_and_pass() {
    let run = chatsync(&["demo"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("[1] The ticket list arrives"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("=> PASS").count(), 9, "{}", run.stdout);
    assert!(
        run.stdout.contains("PASS: 9 of 9 steps passed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("demo settings"),
        "the shortened settings are stated"
    );
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
    assert!(
        !run.stderr.contains('\u{1b}'),
        "no spinner when stderr is not a terminal"
    );
}
