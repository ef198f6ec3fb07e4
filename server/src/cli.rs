//! The command line, shared by the `chatsync-server` binary and `chatsync serve`
//! (which flattens [`ServeArgs`] and calls [`run`]).

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use crate::config::{Role, SeedSpec, ServerConfig, UsersFile, default_users};
use crate::error::ServerError;
use crate::server::Server;

/// Flags of `chatsync-server` / `chatsync serve`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ServeArgs {
    /// Listening address HOST:PORT (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "HOST:PORT")]
    pub addr: String,
    /// SQLite database file (WAL); in-memory when absent.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Create N tickets between the first requester and the first technician
    /// (only into a database without tickets).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub seed_tickets: u32,
    /// Messages per seeded ticket.
    #[arg(long, default_value_t = 0, value_name = "M")]
    pub seed_messages: u32,
    /// Allow fault injection: enables the /admin/v1 endpoints and prints an admin token.
    #[arg(long)]
    pub faults: bool,
    /// JSON file `{"users": [{"id", "role", "fullName", "token"?}], "adminToken"?}`.
    #[arg(long, value_name = "PATH")]
    pub users_file: Option<PathBuf>,
    /// Token of the first requester (default: random).
    #[arg(long, value_name = "TOKEN")]
    pub requester_token: Option<String>,
    /// Token of the first technician (default: random).
    #[arg(long, value_name = "TOKEN")]
    pub technician_token: Option<String>,
    /// Admin token (with --faults; default: random).
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs {
            addr: "127.0.0.1:8787".into(),
            db: None,
            seed_tickets: 0,
            seed_messages: 0,
            faults: false,
            users_file: None,
            requester_token: None,
            technician_token: None,
            admin_token: None,
        }
    }
}

fn resolve(addr: &str) -> Result<SocketAddr, ServerError> {
    addr.to_socket_addrs()
        .map_err(|e| ServerError::Config(format!("--addr {addr:?}: {e}")))?
        .next()
        .ok_or_else(|| ServerError::Config(format!("--addr {addr:?} resolves to nothing")))
}

impl ServeArgs {
    /// The server configuration these flags describe (reads `--users-file`).
    pub fn to_config(&self) -> Result<ServerConfig, ServerError> {
        let mut config = ServerConfig {
            addr: resolve(&self.addr)?,
            db: self.db.clone(),
            seed: SeedSpec::new(self.seed_tickets, self.seed_messages),
            faults_allowed: self.faults,
            admin_token: self.admin_token.clone(),
            ..ServerConfig::default()
        };
        if let Some(path) = &self.users_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ServerError::Config(format!("--users-file {}: {e}", path.display()))
            })?;
            let file: UsersFile = serde_json::from_str(&text).map_err(|e| {
                ServerError::Config(format!("--users-file {}: {e}", path.display()))
            })?;
            config.users = file.users;
            if config.admin_token.is_none() {
                config.admin_token = file.admin_token;
            }
        }
        if self.requester_token.is_some() || self.technician_token.is_some() {
            if config.users.is_empty() {
                config.users = default_users();
            }
            for (role, token) in [
                (Role::Requester, &self.requester_token),
                (Role::Technician, &self.technician_token),
            ] {
                let Some(token) = token else { continue };
                let user = config
                    .users
                    .iter_mut()
                    .find(|u| u.role == role)
                    .ok_or_else(|| {
                        ServerError::Config(format!("no {} to give the token to", role.as_str()))
                    })?;
                user.token = Some(token.clone());
            }
        }
        Ok(config)
    }
}

/// Installs a stderr `tracing` subscriber filtered by `RUST_LOG` (default `info`);
/// does nothing if one is already installed.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Runs the server until SIGTERM or Ctrl-C: starts it, prints the startup line (exactly
/// one JSON line on stdout), then shuts down gracefully. Logs go to stderr.
pub async fn run(args: ServeArgs) -> Result<(), ServerError> {
    init_tracing();
    let config = args.to_config()?;
    let server = Server::start(config).await?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", server.startup_line())?;
        stdout.flush()?;
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await
}
