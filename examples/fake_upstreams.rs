//! The integration tests' fake upstreams as a program of their own, so anyone can point
//! onegraph at working products and watch `onegraph doctor` (or `integrationHealth`) see
//! them:
//!
//! ```sh
//! cargo run --example fake_upstreams -- --env-file fakes.env
//! # in another terminal
//! source fakes.env && cargo run -- doctor
//! ```
//!
//! It starts the fakes of `tests/it/support/` on loopback ports (PSA, Books, Mission, Legal,
//! Hub Billing, the Bus, and an SMTP server with STARTTLS and a certificate from a CA made
//! for this run) and prints the `export` lines of the settings that point onegraph at them,
//! with the keys they expect, plus an SSO secret and a platform integration key for the two
//! Hub items, with which Hub calls onegraph (`tests/it/support/upstreams.rs` has the list). Each fake sits behind a gate on its own port:
//! type `stop mission` (or `psa`, `books`, `legal`, `hub`, `bus`, `smtp`) and connections to
//! it are refused, as if it were down, until `start mission`; `status` lists them; `quit`
//! or Ctrl-C ends the program.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use tokio::{
    io::AsyncBufReadExt,
    net::{TcpListener, TcpStream},
    task::JoinSet,
};

// The fakes the integration tests run, compiled in here as they are there.
#[path = "../tests/it/support/mod.rs"]
#[allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
mod support;

/// A port that forwards connections to a fake while open, and refuses them while closed.
struct Gate {
    /// The port onegraph is told about.
    addr: SocketAddr,
    /// The fake behind it.
    target: SocketAddr,
    /// The accepting loop and the connections it forwards; empty while stopped.
    tasks: Option<JoinSet<()>>,
}

impl Gate {
    /// A gate on a free loopback port, open.
    async fn open(target: SocketAddr) -> std::io::Result<Gate> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let mut gate = Gate {
            addr: listener.local_addr()?,
            target,
            tasks: None,
        };
        gate.serve(listener);
        Ok(gate)
    }

    fn serve(&mut self, listener: TcpListener) {
        let target = self.target;
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        self.tasks = Some(tasks);
    }

    /// Refuses connections from now on (and cuts the open ones).
    async fn stop(&mut self) {
        if let Some(mut tasks) = self.tasks.take() {
            tasks.shutdown().await;
        }
    }

    /// Accepts connections again, on the same port.
    async fn start(&mut self) -> std::io::Result<()> {
        if self.tasks.is_none() {
            let listener = TcpListener::bind(self.addr).await?;
            self.serve(listener);
        }
        Ok(())
    }

    fn is_open(&self) -> bool {
        self.tasks.is_some()
    }
}

/// `--env-file PATH`: also write the export lines there.
fn env_file() -> Result<Option<PathBuf>, String> {
    let mut args = std::env::args().skip(1);
    let mut file = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--env-file" => {
                file = Some(PathBuf::from(args.next().ok_or("--env-file needs a path")?));
            }
            other => return Err(format!("unknown argument {other} (try --env-file PATH)")),
        }
    }
    Ok(file)
}

/// `value` quoted for a POSIX shell.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let env_file = env_file()?;
    let fail = |what: &str| {
        let what = what.to_owned();
        move |err: std::io::Error| format!("{what}: {err}")
    };

    // The fakes, each on its own port, and a gate in front of each.
    let upstreams = support::upstreams::Upstreams::start().await;
    let mut gates: BTreeMap<&'static str, Gate> = BTreeMap::new();
    for (name, target) in upstreams.targets() {
        gates.insert(name, Gate::open(target).await.map_err(fail(name))?);
    }
    let settings = upstreams.env_via(|name, own| gates.get(name).map_or(own, |gate| gate.addr));

    let mut exports = String::from(
        "# onegraph's settings for the fake upstreams (cargo run --example fake_upstreams)\n",
    );
    for (name, value) in &settings {
        exports.push_str(&format!("export {name}={}\n", quoted(value)));
    }
    print!("{exports}");
    if let Some(path) = &env_file {
        std::fs::write(path, &exports).map_err(|e| format!("writing {}: {e}", path.display()))?;
        eprintln!("wrote the settings to {}", path.display());
    }
    eprintln!(
        "fake upstreams running: {}. Commands: stop NAME, start NAME, status, quit.",
        gates.keys().copied().collect::<Vec<_>>().join(", ")
    );

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        let line = tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            line = lines.next_line(), if stdin_open => line,
        };
        let line = match line {
            Ok(Some(line)) => line,
            // No terminal (or it closed): keep serving until Ctrl-C.
            Ok(None) | Err(_) => {
                stdin_open = false;
                continue;
            }
        };
        let words: Vec<String> = line
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            [] => {}
            ["quit" | "exit"] => break,
            ["status"] => {
                for (name, gate) in &gates {
                    let state = if gate.is_open() { "up" } else { "stopped" };
                    eprintln!("{name:<8} {state:<8} 127.0.0.1:{}", gate.addr.port());
                }
            }
            [verb @ ("stop" | "start"), name] => match gates.get_mut(name) {
                None => eprintln!(
                    "no fake named {name}; the fakes: {}",
                    gates.keys().copied().collect::<Vec<_>>().join(", ")
                ),
                Some(gate) if verb == "stop" => {
                    gate.stop().await;
                    eprintln!("{name} stopped: its port refuses connections");
                }
                Some(gate) => match gate.start().await {
                    Ok(()) => eprintln!("{name} up again"),
                    Err(err) => eprintln!("{name} could not listen again: {err}"),
                },
            },
            _ => eprintln!("commands: stop NAME, start NAME, status, quit"),
        }
    }
    for gate in gates.values_mut() {
        gate.stop().await;
    }
    Ok(())
}
