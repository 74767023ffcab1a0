//! The servers under test, each a separate process on loopback so that its memory can be
//! read from `/proc`: onegraph's release binary, and this binary's `baseline-server`.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::process::{Child, Command};

use crate::{Result, machine};

/// A free TCP port on 127.0.0.1 (bound and released; the server binds it right after).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Environment variables that must not leak from the caller into a server under test, so
/// that "default" means the built-in default.
const CLEARED: &[&str] = &[
    "DATABASE_URL",
    "DATABASE_MAX_CONNECTIONS",
    "DATALOADER_DELAY",
    "BIND_ADDR",
    "METRICS_ADDR",
    "REDIS_URL",
    "WS_MAX_OPERATIONS",
    "WS_INIT_TIMEOUT",
    "AUTH_RATE_BURST",
    "AUTH_RATE_PER_MINUTE",
    "HUB_SSO_ISSUER",
    "PORTAL_CLIENT_SSO_SECRET",
];

/// A running server process, killed when dropped.
pub struct Server {
    /// What it is, for messages.
    pub name: String,
    child: Child,
    pid: u32,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// Its Prometheus text endpoint.
    pub metrics: String,
    log: PathBuf,
}

impl Server {
    /// Starts `onegraph serve` on `database_url` with `env` on top of the benchmark's
    /// settings, and waits until `/healthz` answers.
    pub async fn onegraph(
        binary: &Path,
        log_dir: &Path,
        name: &str,
        database_url: &str,
        secret: &str,
        env: &[(&str, &str)],
    ) -> Result<Server> {
        let port = free_port()?;
        let metrics_port = free_port()?;
        let mut command = Command::new(binary);
        command.arg("serve");
        for var in CLEARED {
            command.env_remove(var);
        }
        command
            .env("DATABASE_URL", database_url)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            .env("PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("PORTAL_CLIENT_SSO_SECRET", secret)
            // The benchmark signs in a handful of times from one IP.
            .env("AUTH_RATE_BURST", "1000")
            .env("AUTH_RATE_PER_MINUTE", "1000")
            .env("MAIL_DIR", log_dir.join("mail"))
            .env("RUST_LOG", "warn");
        for (key, value) in env {
            command.env(key, value);
        }
        let base = format!("http://127.0.0.1:{port}");
        let metrics = format!("http://127.0.0.1:{metrics_port}/metrics");
        Self::start(command, name, base, metrics, log_dir).await
    }

    /// Starts the baseline (`bench baseline-server`) on `database_url` with a pool of
    /// `pool` connections.
    pub async fn baseline(
        bench: &Path,
        log_dir: &Path,
        name: &str,
        database_url: &str,
        pool: u32,
    ) -> Result<Server> {
        let port = free_port()?;
        let mut command = Command::new(bench);
        command
            .arg("baseline-server")
            .arg("--database-url")
            .arg(database_url)
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--max-connections")
            .arg(pool.to_string());
        let base = format!("http://127.0.0.1:{port}");
        let metrics = format!("{base}/metrics");
        Self::start(command, name, base, metrics, log_dir).await
    }

    async fn start(
        mut command: Command,
        name: &str,
        base: String,
        metrics: String,
        log_dir: &Path,
    ) -> Result<Server> {
        let slug: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let log = log_dir.join(format!("{slug}.log"));
        let file = std::fs::File::create(&log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone()?))
            .stderr(Stdio::from(file))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!(
                    "starting {name} ({:?}): {e}",
                    command.as_std().get_program()
                )
            })?;
        let pid = child.id().ok_or("the server exited at once")?;
        let mut server = Server {
            name: name.to_owned(),
            child,
            pid,
            base,
            metrics,
            log,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!(
                    "{} exited with {status} while starting; log {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail()
                )
                .into());
            }
            if let Ok(response) = client.get(format!("{}/healthz", self.base)).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("{} did not become ready within 120 s", self.name).into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its memory now.
    pub fn memory(&self) -> machine::Memory {
        machine::memory(Some(self.pid))
    }

    /// A counter or gauge from its `/metrics`.
    pub async fn metric(&self, client: &reqwest::Client, name: &str) -> Result<f64> {
        let text = client.get(&self.metrics).send().await?.text().await?;
        let prefix = format!("{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| format!("{} has no metric {name}", self.name).into())
    }

    /// SQL statements it has executed so far.
    pub async fn statements(&self, client: &reqwest::Client) -> Result<u64> {
        Ok(self.metric(client, "onegraph_db_statements_total").await? as u64)
    }

    /// Stops the process (SIGKILL: nothing it holds needs a clean shutdown) and returns its
    /// peak memory.
    pub async fn stop(mut self) -> machine::Memory {
        let memory = self.memory();
        let _ = self.child.kill().await;
        memory
    }
}
