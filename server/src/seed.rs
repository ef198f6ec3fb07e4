//! Deterministic seed data: realistic helpdesk tickets between one requester and one
//! technician, with system messages, screenshots and contents of varied length.
//!
//! The same [`SeedSpec`] yields the same ids, titles, statuses, contents, sizes and read
//! pointers (timestamps are laid out backwards from the start time, so only they vary).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{Role, SeedSpec};

pub(crate) struct SeedScreenshot {
    pub file_name: String,
    pub file_size: i64,
}

pub(crate) struct SeedMessage {
    pub id: String,
    /// `None` for a system message.
    pub from: Option<Role>,
    pub content: String,
    pub created_ms: i64,
    pub screenshot: Option<SeedScreenshot>,
}

pub(crate) struct SeedTicket {
    pub id: String,
    pub title: String,
    pub status: &'static str,
    pub created_ms: i64,
    pub messages: Vec<SeedMessage>,
    requester_read: i64,
    technician_read: i64,
}

impl SeedTicket {
    /// Read pointer of each side.
    pub fn read_up_to(&self, side: Role) -> i64 {
        match side {
            Role::Requester => self.requester_read,
            Role::Technician => self.technician_read,
        }
    }
}

const SUBJECTS: &[&str] = &[
    "VPN disconnects every few minutes",
    "Outlook keeps asking for my password",
    "Laptop fan is very loud after update",
    "Cannot print to the 3rd floor printer",
    "Request access to the finance shared drive",
    "Monitor flickers when docked",
    "New hire onboarding: accounts for J. Patel",
    "Teams calls drop audio",
    "Password reset for SAP",
    "Phone not syncing calendar",
    "Software install request: Visual Studio Code",
    "Wi-Fi in meeting room B is unusable",
    "Expense tool shows error 500",
    "Keyboard replacement",
    "MFA prompt never arrives",
    "Shared mailbox missing from Outlook",
];

const STATUSES: &[&str] = &["open", "in_progress", "waiting_for_requester", "resolved"];

const REQUESTER_LINES: &[&str] = &[
    "Hi, it happened again just now.",
    "Thanks!",
    "Sure, I can try that after lunch.",
    "It still doesn't work, unfortunately.",
    "I restarted the laptop twice as you suggested but the problem is still there. \
     It usually starts about ten minutes after I log in.",
    "Is there any update on this?",
    "Yes, I'm on the office network today.",
    "The error message says: \"The operation could not be completed (0x80070005)\".",
    "That fixed it, thank you so much!",
    "I'm working from home tomorrow, can we continue then?",
    "Ok",
    "I attached a screenshot of what I see.",
];

const TECHNICIAN_LINES: &[&str] = &[
    "Hello, I'm looking into this now.",
    "Could you please restart the device and tell me if the issue persists?",
    "I've pushed a configuration update to your machine. It may take up to 15 minutes \
     to apply; please reboot once it shows the notification.",
    "Can you send me a screenshot of the error?",
    "Thanks, that helps.",
    "I've escalated this to the network team, they will get back to us today.",
    "Please try again now.",
    "Which building and floor are you on?",
    "Great, I'll close this ticket then. Feel free to reopen it if it comes back.",
    "Noted.",
    "Your access request has been approved by your manager; the permissions should \
     propagate within the hour.",
];

const LONG_TAIL: &[&str] = &[
    "For reference, here is everything I tried so far: cleared the browser cache, \
     signed out and back in, removed and re-added the account, switched from Wi-Fi to \
     the wired connection, and ran the network troubleshooter, which reported nothing.",
    "Some background: this machine was re-imaged last month, and since then a few apps \
     behave differently. The VPN client was upgraded at the same time, and the docking \
     station firmware too, so it is hard to say which change is responsible.",
    "Steps to reproduce: open the app, go to Reports, choose last quarter, press Export. \
     The progress bar reaches about 80% and then the window freezes for a minute before \
     the error appears.",
];

const SYSTEM_LINES: &[&str] = &[
    "Ticket status changed to In progress",
    "Sam Ortega was assigned to this ticket",
    "Priority changed to High",
    "The requester was notified by email",
    "Ticket status changed to Waiting for requester",
];

fn uuid_from(rng: &mut StdRng) -> String {
    let bytes: [u8; 16] = rng.random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn content_for(rng: &mut StdRng, side: Role) -> String {
    let lines = match side {
        Role::Requester => REQUESTER_LINES,
        Role::Technician => TECHNICIAN_LINES,
    };
    let mut text = pick(rng, lines).to_string();
    let roll: f64 = rng.random();
    if roll < 0.12 {
        text.push_str("\n\n");
        text.push_str(pick(rng, LONG_TAIL));
    }
    if roll < 0.02 {
        // A rare very long message (logs pasted into the chat).
        for i in 0..rng.random_range(10..40) {
            text.push_str(&format!(
                "\n[{:02}:{:02}:{:02}] svc-agent: retry {i} failed: connection reset by peer",
                rng.random_range(8..18),
                rng.random_range(0..60),
                rng.random_range(0..60)
            ));
        }
    }
    text
}

/// Generates `spec.tickets` tickets whose newest message is at most `now_ms`.
pub(crate) fn generate(spec: &SeedSpec, now_ms: i64) -> Vec<SeedTicket> {
    let mut rng = StdRng::seed_from_u64(spec.rng_seed);
    let n = spec.tickets as i64;
    let m = spec.messages_per_ticket as usize;
    let mut tickets = Vec::with_capacity(spec.tickets as usize);
    for i in 0..n {
        let id = uuid_from(&mut rng);
        let subject = pick(&mut rng, SUBJECTS);
        let title = format!("{subject} (#{})", 4100 + i);
        let status = STATUSES[rng.random_range(0..STATUSES.len())];
        // The last ticket is the most recently active; each earlier one ~7 minutes older.
        let last_ms = now_ms - (n - 1 - i) * 420_000 - 1_000;
        let mut gaps: Vec<i64> = (0..m).map(|_| rng.random_range(2_000..900_000)).collect();
        let span: i64 = gaps.iter().sum();
        let mut at = last_ms - span;
        let created_ms = at - 60_000;
        let mut messages = Vec::with_capacity(m);
        for (k, gap) in gaps.drain(..).enumerate() {
            at += gap;
            let roll: f64 = rng.random();
            let from = if k == 0 || roll < 0.05 {
                None
            } else if roll < 0.55 {
                Some(Role::Requester)
            } else {
                Some(Role::Technician)
            };
            let (content, screenshot) = match from {
                None if k == 0 => ("Ticket created".to_string(), None),
                None => (pick(&mut rng, SYSTEM_LINES).to_string(), None),
                Some(Role::Requester) if rng.random::<f64>() < 0.04 => (
                    "Screenshot attached".to_string(),
                    Some(SeedScreenshot {
                        file_name: format!("screenshot-{}-{}.png", 4100 + i, k + 1),
                        file_size: rng.random_range(80_000..2_500_000),
                    }),
                ),
                Some(side) => (content_for(&mut rng, side), None),
            };
            messages.push(SeedMessage {
                id: uuid_from(&mut rng),
                from,
                content,
                created_ms: at,
                screenshot,
            });
        }
        let unread_tail = rng.random_range(0..4).min(m as i64);
        tickets.push(SeedTicket {
            id,
            title,
            status,
            created_ms,
            requester_read: m as i64 - unread_tail,
            technician_read: m as i64,
            messages,
        });
    }
    tickets
}
