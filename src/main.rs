//! The `onegraph` command line: serve, migrate, export-schema, token, doctor, jobs run.
//! Wiring only.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use onegraph::{cli, config::Settings};

/// mimalloc instead of glibc's allocator: a GraphQL response allocates for every field (the
/// value tree, its keys, boxed futures), and glibc's malloc and free were about a third of
/// the server's instructions on the read path.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "onegraph",
    version,
    about = "GraphQL backend of Portal and Visitor"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrates first).
    Serve {
        /// Seed a demo tenant and print a session token and an example query.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Write the schema's SDL to a file (default schema/schema.graphql).
    ExportSchema {
        /// Where to write it; `-` for standard output.
        #[arg(long, default_value = "schema/schema.graphql")]
        out: String,
    },
    /// Mint a Hub-style SSO token with the configured secret (development and tests).
    Token {
        /// Tenant id.
        #[arg(long, default_value = cli::demo::TENANT_ID)]
        tenant: String,
        /// Hub user id (`sub`).
        #[arg(long, default_value = "dev-user")]
        user: String,
        /// `visitor` or `portal`.
        #[arg(long, default_value = "visitor")]
        audience: String,
        /// Comma-separated permissions; default every `visitor.*` permission for a visitor
        /// token, and no claim (the role decides) for a portal token.
        #[arg(long)]
        permissions: Option<String>,
        /// E-mail claim.
        #[arg(long)]
        email: Option<String>,
        /// Name claim.
        #[arg(long, default_value = "Developer")]
        name: String,
    },
    /// Print the integration checklist: what is configured, which settings are missing,
    /// what answers (exit 1 when a configured product or the database does not).
    Doctor,
    /// Scheduled jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Run a job now, with its lease, record the run and print its summary (exit 1 on failure).
    Run {
        /// The job.
        #[arg(value_parser = ["tickets", "invoices", "auto-checkout", "retention", "billing-usage"])]
        job: String,
    },
}

/// Libraries whose trace-level logs carry credentials: tungstenite dumps every WebSocket
/// frame and message whole (`connection_init`'s bearer token included), and sea-orm's
/// `connect` span records the connect options, `DATABASE_URL` and its password included (on
/// every event logged inside it). They log at most at `debug`, whatever `RUST_LOG` asks for.
const CREDENTIAL_LOGGERS: [&str; 3] = ["tungstenite", "tokio_tungstenite", "sea_orm"];

fn init_tracing() {
    use tracing_subscriber::{
        Layer,
        filter::{FilterExt, LevelFilter, Targets},
        layer::SubscriberExt,
        util::SubscriberInitExt,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let cap = CREDENTIAL_LOGGERS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |cap, target| cap.with_target(*target, LevelFilter::DEBUG),
    );
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_filter(filter.and(cap)))
        .init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
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
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command.unwrap_or(Command::Serve { demo: false }) {
        Command::ExportSchema { out } => cli::export_schema(&out),
        Command::Token {
            tenant,
            user,
            audience,
            permissions,
            email,
            name,
        } => {
            let settings = Settings::from_env().map_err(|e| e.to_string())?;
            let request = cli::TokenRequest {
                tenant,
                user,
                audience,
                permissions,
                email,
                name,
            };
            println!("{}", cli::mint_token(&settings, &request)?);
            Ok(())
        }
        Command::Doctor => {
            cli::doctor::doctor(&Settings::from_env().map_err(|e| e.to_string())?).await
        }
        Command::Migrate => cli::migrate(&Settings::from_env().map_err(|e| e.to_string())?).await,
        Command::Jobs {
            command: JobsCommand::Run { job },
        } => cli::run_job(Settings::from_env().map_err(|e| e.to_string())?, &job).await,
        Command::Serve { demo } => {
            let settings = Settings::from_env().map_err(|e| e.to_string())?;
            cli::serve(settings, demo, shutdown_signal()).await
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    init_tracing();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("onegraph: {message}");
            ExitCode::FAILURE
        }
    }
}
