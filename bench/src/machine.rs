//! The machine a report was measured on: CPU model, cores, RAM, OS, kernel, rustc.

use serde::Serialize;

/// What the figures were measured on. Fields that cannot be read are `"unknown"` / 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    /// `lscpu`'s "Model name" (or `/proc/cpuinfo`'s "model name").
    pub cpu_model: String,
    /// Logical CPUs available to this process.
    pub cores: usize,
    /// Physical memory (`MemTotal` of `/proc/meminfo`), in bytes.
    pub ram_bytes: u64,
    /// `PRETTY_NAME` of `/etc/os-release`.
    pub os: String,
    /// The running kernel (`/proc/sys/kernel/osrelease`).
    pub kernel: String,
    /// `rustc --version` of the compiler that built the suite.
    pub rustc: String,
    /// `debug` or `release`: how the measured code was compiled.
    pub profile: String,
}

impl Machine {
    /// Reads the current machine's description (never fails; unknown fields say so).
    pub fn current() -> Machine {
        Machine {
            cpu_model: cpu_model().unwrap_or_else(|| "unknown".into()),
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            ram_bytes: mem_total().unwrap_or(0),
            os: os_name().unwrap_or_else(|| std::env::consts::OS.to_string()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            rustc: env!("CHATSYNC_BENCH_RUSTC").to_string(),
            profile: if cfg!(debug_assertions) {
                "debug".into()
            } else {
                "release".into()
            },
        }
    }

    /// One line: `CPU (N cores), X GiB RAM, OS (kernel), rustc`.
    pub fn summary(&self) -> String {
        format!(
            "{} ({} cores), {:.1} GiB RAM, {} (Linux {}), {}, {} build",
            self.cpu_model,
            self.cores,
            self.ram_bytes as f64 / (1u64 << 30) as f64,
            self.os,
            self.kernel,
            self.rustc,
            self.profile
        )
    }
}

fn cpu_model() -> Option<String> {
    let from_lscpu = std::process::Command::new("lscpu")
        .env("LC_ALL", "C")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| field(&String::from_utf8_lossy(&o.stdout), "Model name"));
    from_lscpu.or_else(|| {
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| field(&text, "model name"))
    })
}

/// The value of the first `name: value` line.
fn field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name && !value.trim().is_empty()).then(|| value.trim().to_string())
    })
}

fn mem_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = field(&text, "MemTotal")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

fn os_name() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines().find_map(|line| {
        line.strip_prefix("PRETTY_NAME=")
            .map(|v| v.trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_colon_lines() {
        let text = "Architecture: x86_64\nModel name:   Some CPU @ 2.0GHz\n";
        assert_eq!(
            field(text, "Model name").as_deref(),
            Some("Some CPU @ 2.0GHz")
        );
        assert_eq!(field(text, "Missing"), None);
    }
}
