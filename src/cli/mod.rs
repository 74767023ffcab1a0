//! What the `onegraph` commands do (`doctor` in `doctor.rs`), as library functions; `main.rs` only parses the command
//! line and calls them.

pub mod demo;
pub mod doctor;

use std::sync::Arc;

use crate::{
    app,
    auth::{PermissionSet, sso},
    config::{Secret, Settings},
    db, graphql, jobs,
};

/// `export-schema`: writes the SDL to `out` (`-`: standard output).
pub fn export_schema(out: &str) -> Result<(), String> {
    let sdl = graphql::sdl();
    if out == "-" {
        print!("{sdl}");
    } else {
        std::fs::write(out, sdl).map_err(|e| format!("writing {out}: {e}"))?;
        eprintln!("wrote {out}");
    }
    Ok(())
}

/// What `token` mints.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Tenant id.
    pub tenant: String,
    /// Hub user id (`sub`).
    pub user: String,
    /// `visitor` or `portal`.
    pub audience: String,
    /// Comma-separated permissions; `None`: every `visitor.*` permission for a visitor
    /// token, and no claim (the role decides) for a portal token.
    pub permissions: Option<String>,
    /// E-mail claim.
    pub email: Option<String>,
    /// Name claim.
    pub name: String,
}

/// `token`: a Hub-style SSO token signed with the configured secret, valid 5 minutes.
pub fn mint_token(settings: &Settings, request: &TokenRequest) -> Result<String, String> {
    let secret = settings
        .sso_secret
        .as_ref()
        .ok_or("PORTAL_CLIENT_SSO_SECRET is not set: there is no secret to sign with")?;
    let now = chrono::Utc::now().timestamp();
    let permissions = match &request.permissions {
        Some(list) => Some(
            list.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
        ),
        None if request.audience == "portal" => None,
        None => Some(PermissionSet::all_visitor().names()),
    };
    let claims = sso::MintClaims {
        iss: settings.hub_sso_issuer.clone(),
        aud: request.audience.clone(),
        sub: request.user.clone(),
        email: request.email.clone(),
        name: Some(request.name.clone()),
        role: None,
        tenant_id: request.tenant.clone(),
        tenant_name: None,
        permissions,
        jti: uuid::Uuid::new_v4().to_string(),
        iat: now,
        exp: now + 300,
    };
    sso::mint(&claims, secret.expose()).map_err(|e| format!("signing: {e}"))
}

/// Connects to `DATABASE_URL` and applies the migrations.
pub async fn open_database(
    settings: &Settings,
) -> Result<(sea_orm::DatabaseConnection, Arc<db::DbStats>), String> {
    let stats = Arc::new(db::DbStats::default());
    let conn = db::connect(
        &settings.database_url,
        settings.database_max_connections,
        stats.clone(),
    )
    .await
    .map_err(|e| {
        format!(
            "connecting to the database: {}",
            without_url(&e.to_string(), &settings.database_url)
        )
    })?;
    db::migrate(&conn).await.map_err(|e| {
        format!(
            "migrating: {}",
            without_url(&e.to_string(), &settings.database_url)
        )
    })?;
    Ok((conn, stats))
}

/// `text` with every copy of `url` (which may hold a password) replaced: the database
/// driver quotes a connection string it cannot parse or has no driver for.
fn without_url(text: &str, url: &str) -> String {
    if url.is_empty() {
        return text.to_owned();
    }
    text.replace(url, "[DATABASE_URL]")
}

/// `migrate`.
pub async fn migrate(settings: &Settings) -> Result<(), String> {
    open_database(settings).await?;
    eprintln!("migrations applied");
    Ok(())
}

/// `jobs run JOB`: runs it now under its lease, prints the summary; an error when the run
/// failed or finished with errors.
pub async fn run_job(settings: Settings, job: &str) -> Result<(), String> {
    let job = jobs::Job::parse(job).ok_or_else(|| format!("unknown job {job}"))?;
    let (conn, stats) = open_database(&settings).await?;
    let state = app::AppState::new(settings, conn, stats);
    let record = jobs::run_now(&state, job)
        .await
        .map_err(|e| format!("{} job: {} ({})", job.as_str(), e.message(), e.code()))?;
    println!(
        "{} run {}: {}",
        job.as_str(),
        record.id,
        record.summary.as_deref().unwrap_or("")
    );
    match record.error {
        Some(error) => Err(format!(
            "{} job finished with errors: {error}",
            job.as_str()
        )),
        None => Ok(()),
    }
}

/// `serve [--demo]`: migrates, binds, (with `demo`) seeds the demo tenant and prints its
/// tokens and example operations, and serves until `shutdown` resolves.
pub async fn serve(
    mut settings: Settings,
    demo: bool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    if demo && settings.sso_secret.is_none() {
        settings.sso_secret = Some(Secret::new(demo::random_secret()));
        tracing::info!("demo: generated a PORTAL_CLIENT_SSO_SECRET for this run");
    }
    crate::upstream::mail::check_settings(&settings)
        .map_err(|reason| format!("e-mail through SES: {reason}"))?;
    let (conn, stats) = open_database(&settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.bind_addr)
        .await
        .map_err(|e| format!("binding {}: {e}", settings.bind_addr))?;
    let public_url = settings.public_url.clone();
    let bind = listener.local_addr().map_err(|e| e.to_string())?;
    if settings.trusted_proxies.is_empty() && !bind.ip().is_loopback() {
        // Behind a load balancer every client would share its address: one client's
        // failed logins or sockets would use up everyone's per-address allowance.
        tracing::warn!(
            "TRUSTED_PROXIES is empty: per-address limits (the rate limiter, \
             WS_MAX_CONNECTIONS_PER_IP, WS_MAX_PENDING_PER_IP) count each peer address; \
             behind a proxy or load balancer, set TRUSTED_PROXIES to its addresses"
        );
    }
    let state = app::AppState::new(settings, conn, stats);
    if demo {
        let sessions = demo::seed(&state)
            .await
            .map_err(|e| format!("seeding the demo tenant: {}", e.message()))?;
        demo::print_banner(&public_url, &sessions);
    }
    tracing::info!(%bind, "onegraph listening; GraphQL on /graphql");
    app::serve(state, listener, shutdown)
        .await
        .map_err(|e| format!("server: {e}"))
}
