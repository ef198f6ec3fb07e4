//! The `chatsync-server` binary: one JSON line on stdout once listening, flags, users
//! file, persistence in `--db`, graceful exit on SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

struct Process {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

fn spawn(args: &[&str]) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatsync-server"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    Process { child, stdout }
}

impl Process {
    fn startup_line(&mut self) -> (String, Value) {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("reads a line");
        let value = serde_json::from_str(line.trim_end()).expect("the line is JSON");
        (line, value)
    }

    /// Sends SIGTERM and waits for the exit; returns (success, rest of stdout).
    fn terminate(mut self) -> (bool, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("wait") {
                break exit;
            }
            assert!(Instant::now() < deadline, "exits within 10 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = String::new();
        self.stdout
            .read_to_string(&mut rest)
            .expect("rest of stdout");
        (exit.success(), rest)
    }
}

#[tokio::test]
async fn prints_one_json_line_serves_and_exits_on_sigterm() {
    let mut process = spawn(&[
        "--addr",
        "127.0.0.1:0",
        "--seed-tickets",
        "3",
        "--seed-messages",
        "4",
        "--faults",
        "--requester-token",
        "req-token",
        "--admin-token",
        "adm-token",
    ]);
    let (raw, line) = process.startup_line();
    assert!(raw.starts_with("{\"address\": \"127.0.0.1:"), "{raw}");
    let object = line.as_object().unwrap();
    let mut keys: Vec<&String> = object.keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        vec!["address", "adminToken", "users"],
        "exactly these keys"
    );
    assert!(
        raw.contains("], \"adminToken\": \"adm-token\"}"),
        "the issue's key order: {raw}"
    );
    assert_eq!(line["adminToken"], "adm-token");
    let users = line["users"].as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0]["role"], "requester");
    assert_eq!(users[0]["token"], "req-token");
    assert_eq!(users[1]["role"], "technician");
    for user in users {
        let mut keys: Vec<&String> = user.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, vec!["fullName", "id", "role", "token"]);
    }
    let address = line["address"].as_str().unwrap();
    assert!(!address.ends_with(":0"), "the real port");

    let http = common::http_client();
    let list: Value = http
        .get(format!("http://{address}/api/v1/chat/requests"))
        .bearer_auth("req-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["chatMessages"].as_array().unwrap().len(), 3);
    let stats = http
        .get(format!("http://{address}/admin/v1/stats"))
        .bearer_auth("adm-token")
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), StatusCode::OK);

    let (success, rest) = process.terminate();
    assert!(success, "exit status 0 after SIGTERM");
    assert_eq!(rest, "", "exactly one line on stdout");
}

#[tokio::test]
async fn users_file_and_db_persist_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let users_path = dir.path().join("users.json");
    let db_path = dir.path().join("chat.db");
    std::fs::write(
        &users_path,
        json!({"users": [
            {"id": "ada", "role": "requester", "fullName": "Ada Lovelace", "token": "tok-ada"},
            {"id": "max", "role": "technician", "fullName": "Max Planck", "token": "tok-max"},
            {"id": "eve", "role": "requester", "fullName": "Eve Example"}
        ]})
        .to_string(),
    )
    .unwrap();
    let args = [
        "--addr",
        "127.0.0.1:0",
        "--users-file",
        users_path.to_str().unwrap(),
        "--db",
        db_path.to_str().unwrap(),
        "--seed-tickets",
        "1",
        "--seed-messages",
        "2",
    ];
    let mut first = spawn(&args);
    let (_, line) = first.startup_line();
    assert!(line["adminToken"].is_null(), "no faults, no admin token");
    let users = line["users"].as_array().unwrap();
    assert_eq!(
        users
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["ada", "max", "eve"]
    );
    let eve_token = users[2]["token"].as_str().unwrap().to_string();
    assert!(!eve_token.is_empty(), "generated token");
    let address = line["address"].as_str().unwrap().to_string();
    let http = common::http_client();
    let list: Value = http
        .get(format!("http://{address}/api/v1/chat/requests"))
        .bearer_auth("tok-ada")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticket = list["chatMessages"][0]["id"].as_str().unwrap().to_string();
    let sent = http
        .post(format!(
            "http://{address}/api/v1/chat/requests/{ticket}/messages"
        ))
        .bearer_auth("tok-max")
        .json(&json!({"content": "persisted", "clientTempId": "p-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::CREATED);
    assert!(first.terminate().0);

    // Same database: the seed is not applied again, the post and eve's token survive.
    let mut second = spawn(&args);
    let (_, line) = second.startup_line();
    assert_eq!(line["users"][2]["token"], eve_token.as_str());
    let address = line["address"].as_str().unwrap().to_string();
    let list: Value = http
        .get(format!("http://{address}/api/v1/chat/requests"))
        .bearer_auth("tok-ada")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["chatMessages"].as_array().unwrap().len(), 1);
    assert_eq!(list["chatMessages"][0]["lastMessageSequence"], 3);
    assert_eq!(
        list["chatMessages"][0]["lastMessage"]["content"],
        "persisted"
    );
    assert!(second.terminate().0);
}

#[test]
fn bad_flags_fail_with_a_message_on_stderr() {
    for args in [
        vec![
            "--users-file",
            "/nonexistent/users.json",
            "--addr",
            "127.0.0.1:0",
        ],
        vec!["--addr", "not an address"],
        vec!["--seed-tickets", "-4"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_chatsync-server"))
            .args(&args)
            .output()
            .expect("runs");
        assert!(!output.status.success(), "{args:?} fails");
        assert!(output.stdout.is_empty(), "nothing on stdout for {args:?}");
        assert!(
            !output.stderr.is_empty(),
            "a message on stderr for {args:?}"
        );
    }
}
