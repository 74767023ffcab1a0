//! The `onegraph` command line: serve, migrate, export-schema, token, jobs run. Wiring only.

use std::{process::ExitCode, sync::Arc};

use clap::{Parser, Subcommand};
use onegraph::{app, auth::sso, config::Settings, db, graphql, services};

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
        #[arg(long, default_value = services::demo::TENANT_ID)]
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

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
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

fn demo_secret() -> String {
    services::demo::random_secret()
}

async fn run(cli: Cli) -> Result<(), String> {
    let command = cli.command.unwrap_or(Command::Serve { demo: false });
    if let Command::ExportSchema { out } = &command {
        let sdl = graphql::sdl();
        if out == "-" {
            print!("{sdl}");
        } else {
            std::fs::write(out, sdl).map_err(|e| format!("writing {out}: {e}"))?;
            eprintln!("wrote {out}");
        }
        return Ok(());
    }
    let mut settings = Settings::from_env().map_err(|e| e.to_string())?;
    if let Command::Token {
        tenant,
        user,
        audience,
        permissions,
        email,
        name,
    } = &command
    {
        let secret = settings
            .sso_secret
            .as_ref()
            .ok_or("PORTAL_CLIENT_SSO_SECRET is not set: there is no secret to sign with")?;
        let now = chrono::Utc::now().timestamp();
        // A portal token without --permissions carries no claim: the client user's role
        // decides. A visitor token without it gets every visitor permission.
        let permissions = match permissions {
            Some(list) => Some(
                list.split(',')
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty())
                    .collect(),
            ),
            None if audience == "portal" => None,
            None => Some(onegraph::auth::PermissionSet::all_visitor().names()),
        };
        let claims = sso::MintClaims {
            iss: settings.hub_sso_issuer.clone(),
            aud: audience.clone(),
            sub: user.clone(),
            email: email.clone(),
            name: Some(name.clone()),
            role: None,
            tenant_id: tenant.clone(),
            tenant_name: None,
            permissions,
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now + 300,
        };
        let token = sso::mint(&claims, secret.expose()).map_err(|e| format!("signing: {e}"))?;
        println!("{token}");
        return Ok(());
    }
    let demo = matches!(command, Command::Serve { demo: true });
    if demo && settings.sso_secret.is_none() {
        settings.sso_secret = Some(onegraph::config::Secret::new(demo_secret()));
        tracing::info!("demo: generated a PORTAL_CLIENT_SSO_SECRET for this run");
    }
    let stats = Arc::new(db::DbStats::default());
    let conn = db::connect(
        &settings.database_url,
        settings.database_max_connections,
        stats.clone(),
    )
    .await
    .map_err(|e| format!("connecting to the database: {e}"))?;
    db::migrate(&conn)
        .await
        .map_err(|e| format!("migrating: {e}"))?;
    if matches!(command, Command::Migrate) {
        eprintln!("migrations applied");
        return Ok(());
    }
    if let Command::Jobs {
        command: JobsCommand::Run { job },
    } = &command
    {
        let job = onegraph::jobs::Job::parse(job).ok_or_else(|| format!("unknown job {job}"))?;
        let state = app::AppState::new(settings, conn, stats);
        let record = onegraph::jobs::run_now(&state, job)
            .await
            .map_err(|e| format!("{} job: {} ({})", job.as_str(), e.message(), e.code()))?;
        println!(
            "{} run {}: {}",
            job.as_str(),
            record.id,
            record.summary.as_deref().unwrap_or("")
        );
        return match record.error {
            Some(error) => Err(format!(
                "{} job finished with errors: {error}",
                job.as_str()
            )),
            None => Ok(()),
        };
    }
    let listener = tokio::net::TcpListener::bind(settings.bind_addr)
        .await
        .map_err(|e| format!("binding {}: {e}", settings.bind_addr))?;
    let public_url = settings.public_url.clone();
    let bind = listener.local_addr().map_err(|e| e.to_string())?;
    let state = app::AppState::new(settings, conn, stats);
    if demo {
        let sessions = services::demo::seed(&state)
            .await
            .map_err(|e| format!("seeding the demo tenant: {}", e.message()))?;
        println!("\nDemo tenant ready. Open {public_url}/graphql in a browser (GraphiQL).");
        println!(
            "Paste this staff token into GraphiQL's token field (or send it as `Authorization: Bearer …`):\n"
        );
        println!("    {}\n", sessions.staff.token);
        println!("Example query:\n\n{}\n", services::demo::EXAMPLE_QUERY);
        println!(
            "Portal: the client admin client@demo.example of company {}, with this token:\n\n    {}\n",
            services::demo::CLIENT_COMPANY,
            sessions.client.token
        );
        println!(
            "Example Portal operations:\n\n{}\n",
            services::demo::EXAMPLE_CLIENT_QUERY
        );
        println!(
            "Live check-ins (second tab):\n\n    subscription {{ visitorCheckedIn {{ id visitor {{ name }} location {{ name }} checkedInAt }} }}\n"
        );
    }
    tracing::info!(%bind, "onegraph listening; GraphQL on /graphql");
    app::serve(state, listener, shutdown_signal())
        .await
        .map_err(|e| format!("server: {e}"))
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
