//! The outbox dispatcher: one loop per server that delivers outbox rows of every kind (Bus
//! events, e-mail, Legal webhooks) with leases, retries and dead-lettering, all of its
//! state in the `outbox` table so that it survives restarts and runs safely on every
//! replica.
//!
//! Each pass selects up to [`BATCH`] due ids of the kinds whose integration is configured
//! (rows of other kinds stay pending, untried, until it is), then claims each with one
//! conditional `UPDATE` that sets `locked_until` only when the row is still undelivered,
//! alive, due and unleased; only a claim that changed exactly one row is delivered. The
//! lease outlasts the longest delivery, so no row is ever sent twice at the same time, on
//! one replica or several. A delivered row gets `delivered_at`; a failed one `attempts + 1`,
//! `last_error` (onegraph's own short description: kind, step, HTTP status — never the
//! upstream body) and a `next_attempt_at` after `OUTBOX_RETRY_BASE · 2^(attempts − 1)`,
//! capped at [`MAX_BACKOFF`], ±20% jitter; after `OUTBOX_MAX_ATTEMPTS` failures (default
//! 20, some four days of retrying at the defaults) or a failure that cannot succeed (a
//! malformed message), it is marked `dead` and no longer tried. A `mail` row that is
//! delivered or dead has its payload replaced by [`redacted_mail`] in the statement that
//! records the result, so no set-password or reset link stays in the table.
//!
//! Delivery is at least once: a server that dies between sending and recording lets its
//! lease expire and the row goes again. The Bus envelope's `id` makes that harmless.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use rand::Rng;
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Expr,
};
use tokio::{sync::watch, task::JoinHandle};

use super::outbox::{Mail, OutboxKind, redacted_mail};
use crate::{
    config::Settings,
    db::now,
    error::AppResult,
    upstream::{
        bus::{BusClient, HttpBus},
        legal::{HttpLegal, LegalClient},
        mail::{self, Mailer},
    },
};
use entities::outbox::{Column, Entity as Outbox, Model};

/// Due ids read per pass.
pub const BATCH: u64 = 50;
/// Deliveries in flight at once per dispatcher.
pub const CONCURRENCY: usize = 4;
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Due rows found.
    pub due: usize,
    /// Rows this dispatcher claimed (the others were taken by another one meanwhile).
    pub claimed: usize,
    /// Rows delivered.
    pub delivered: usize,
    /// Rows whose delivery failed (retried later, or dead).
    pub failed: usize,
}

/// A failed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    /// Short description recorded as `last_error`.
    message: String,
    /// Retrying cannot succeed.
    permanent: bool,
}

impl Failure {
    fn retry(message: impl ToString) -> Self {
        Self {
            message: message.to_string(),
            permanent: false,
        }
    }
    fn permanent(message: impl ToString) -> Self {
        Self {
            message: message.to_string(),
            permanent: true,
        }
    }
}

/// Delivers outbox rows; see the module documentation.
pub struct Dispatcher {
    db: DatabaseConnection,
    bus: Option<Arc<dyn BusClient>>,
    legal: Option<Arc<dyn LegalClient>>,
    mailer: Arc<dyn Mailer>,
    poll_interval: Duration,
    retry_base: Duration,
    max_attempts: i32,
    /// Bound on one delivery, whatever the transport does.
    delivery_timeout: Duration,
    /// How long a claim holds a row: longer than any delivery can take.
    lease: Duration,
}

impl Dispatcher {
    /// A dispatcher on `db` with the clients the settings configure and `mailer` (chosen
    /// once, at start-up, by [`mail::from_settings`]).
    pub fn new(settings: &Settings, db: DatabaseConnection, mailer: Arc<dyn Mailer>) -> Self {
        let client = crate::upstream::http_client(settings);
        let bus = HttpBus::from_settings(settings, client.clone())
            .map(|b| Arc::new(b) as Arc<dyn BusClient>);
        let legal =
            HttpLegal::from_settings(settings, client).map(|l| Arc::new(l) as Arc<dyn LegalClient>);
        Self::with_clients(settings, db, bus, legal, mailer)
    }

    /// A dispatcher with the given clients (`None`: that integration is off).
    pub fn with_clients(
        settings: &Settings,
        db: DatabaseConnection,
        bus: Option<Arc<dyn BusClient>>,
        legal: Option<Arc<dyn LegalClient>>,
        mailer: Arc<dyn Mailer>,
    ) -> Self {
        // SMTP has a timeout per command; bound the whole exchange at twice the upstream
        // timeout, and hold the lease well past that.
        let delivery_timeout = settings.upstream_timeout.saturating_mul(2);
        Self {
            db,
            bus,
            legal,
            mailer,
            poll_interval: settings.outbox_poll_interval,
            retry_base: settings.outbox_retry_base,
            max_attempts: i32::try_from(settings.outbox_max_attempts).unwrap_or(i32::MAX),
            delivery_timeout,
            lease: delivery_timeout.saturating_mul(2) + Duration::from_secs(10),
        }
    }

    /// The kinds this dispatcher delivers: mail always (a file transport at least), Bus
    /// and Legal when configured.
    pub fn kinds(&self) -> Vec<OutboxKind> {
        let mut kinds = vec![OutboxKind::Mail];
        if self.bus.is_some() {
            kinds.push(OutboxKind::Bus);
        }
        if self.legal.is_some() {
            kinds.push(OutboxKind::LegalWebhook);
        }
        kinds
    }

    /// One pass: selects due rows, claims and delivers them, [`CONCURRENCY`] at a time.
    pub async fn run_once(&self) -> AppResult<Pass> {
        let at = now();
        let ids: Vec<String> = Outbox::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::DeliveredAt.is_null())
            .filter(Column::Dead.eq(false))
            .filter(Column::NextAttemptAt.lte(at))
            .filter(
                Condition::any()
                    .add(Column::LockedUntil.is_null())
                    .add(Column::LockedUntil.lt(at)),
            )
            .filter(Column::Kind.is_in(self.kinds()))
            .order_by_asc(Column::NextAttemptAt)
            .limit(BATCH)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut pass = Pass {
            due: ids.len(),
            ..Pass::default()
        };
        let outcomes: Vec<Option<bool>> = futures_util::stream::iter(ids)
            .map(|id| async move {
                match self.process(&id).await {
                    Ok(outcome) => outcome,
                    Err(err) => {
                        tracing::warn!(outbox_id = %id, code = err.code().as_str(), "outbox row not processed");
                        None
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for outcome in outcomes.into_iter().flatten() {
            pass.claimed += 1;
            if outcome {
                pass.delivered += 1;
            } else {
                pass.failed += 1;
            }
        }
        Ok(pass)
    }

    /// Claims, delivers and records one row: `None` when another dispatcher had it,
    /// `Some(delivered)` otherwise.
    async fn process(&self, id: &str) -> AppResult<Option<bool>> {
        let at = now();
        let lease_until = at + chrono::Duration::from_std(self.lease).unwrap_or_default();
        if !claim(&self.db, id, at, lease_until).await? {
            return Ok(None);
        }
        let Some(row) = Outbox::find_by_id(id.to_owned()).one(&self.db).await? else {
            return Ok(None);
        };
        let result = match tokio::time::timeout(self.delivery_timeout, self.deliver(&row)).await {
            Ok(result) => result,
            Err(_) => Err(Failure::retry(format!(
                "{}: delivery timed out",
                row.kind.to_value()
            ))),
        };
        match result {
            Ok(()) => {
                let mut done = Outbox::update_many()
                    .col_expr(Column::DeliveredAt, Expr::value(now()))
                    .col_expr(
                        Column::LockedUntil,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    );
                if row.kind == OutboxKind::Mail {
                    let redacted = redacted_mail(&row.payload);
                    done = done.col_expr(Column::Payload, Expr::value(redacted));
                }
                let done = done
                    .filter(Column::Id.eq(id))
                    .filter(Column::LockedUntil.eq(lease_until))
                    .exec(&self.db)
                    .await?;
                if done.rows_affected != 1 {
                    tracing::warn!(outbox_id = %id, "outbox lease lost before recording delivery");
                }
                tracing::debug!(outbox_id = %id, kind = %row.kind.to_value(), "outbox row delivered");
                Ok(Some(true))
            }
            Err(failure) => {
                self.record_failure(&row, lease_until, failure).await?;
                Ok(Some(false))
            }
        }
    }

    async fn record_failure(
        &self,
        row: &Model,
        lease_until: DateTime<Utc>,
        failure: Failure,
    ) -> AppResult<()> {
        let attempts = row.attempts.saturating_add(1);
        let dead = failure.permanent || attempts >= self.max_attempts;
        let next = now()
            + chrono::Duration::from_std(backoff(self.retry_base, attempts)).unwrap_or_default();
        let mut recorded = Outbox::update_many()
            .col_expr(Column::Attempts, Expr::value(attempts))
            .col_expr(
                Column::LastError,
                Expr::value(Some(failure.message.clone())),
            )
            .col_expr(Column::NextAttemptAt, Expr::value(next))
            .col_expr(
                Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(Column::Dead, Expr::value(dead));
        if dead && row.kind == OutboxKind::Mail {
            // Never sent: the link it carried must not stay either.
            let redacted = redacted_mail(&row.payload);
            recorded = recorded.col_expr(Column::Payload, Expr::value(redacted));
        }
        let recorded = recorded
            .filter(Column::Id.eq(&row.id))
            .filter(Column::LockedUntil.eq(lease_until))
            .exec(&self.db)
            .await?;
        if recorded.rows_affected != 1 {
            tracing::warn!(outbox_id = %row.id, "outbox lease lost before recording a failure");
        }
        if dead {
            tracing::error!(outbox_id = %row.id, kind = %row.kind.to_value(), attempts, error = %failure.message, "outbox row is dead: no further attempts");
        } else {
            tracing::warn!(outbox_id = %row.id, kind = %row.kind.to_value(), attempts, error = %failure.message, "outbox delivery failed; will retry");
        }
        Ok(())
    }

    async fn deliver(&self, row: &Model) -> Result<(), Failure> {
        match row.kind {
            OutboxKind::Bus => match &self.bus {
                Some(bus) => bus.publish(&row.payload).await.map_err(Failure::retry),
                None => Err(Failure::retry("bus: not configured")),
            },
            OutboxKind::LegalWebhook => match &self.legal {
                Some(legal) => legal
                    .post_webhook(&row.payload)
                    .await
                    .map_err(Failure::retry),
                None => Err(Failure::retry("legal_webhook: not configured")),
            },
            OutboxKind::Mail => {
                let mail: Mail = serde_json::from_str(&row.payload)
                    .map_err(|_| Failure::permanent("mail: payload is not a message"))?;
                self.mailer
                    .send(&mail.to, &mail.subject, &mail.text)
                    .await
                    .map_err(|err| {
                        if err.is_permanent() {
                            Failure::permanent(err)
                        } else {
                            Failure::retry(err)
                        }
                    })
            }
        }
    }

    /// Runs passes every `OUTBOX_POLL_INTERVAL` (at once again after a full batch) until
    /// [`DispatcherHandle::stop`].
    pub fn spawn(self) -> DispatcherHandle {
        let (stop, mut stopped) = watch::channel(false);
        let grace = self.delivery_timeout + Duration::from_secs(1);
        let task = tokio::spawn(async move {
            let kinds: Vec<String> = self.kinds().iter().map(ActiveEnum::to_value).collect();
            tracing::info!(
                ?kinds,
                mail = self.mailer.transport(),
                "outbox dispatcher started"
            );
            loop {
                let full = match self.run_once().await {
                    Ok(pass) => pass.due as u64 >= BATCH,
                    Err(err) => {
                        tracing::warn!(code = err.code().as_str(), "outbox pass failed");
                        false
                    }
                };
                if *stopped.borrow() {
                    break;
                }
                if full {
                    continue;
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.poll_interval) => {}
                    _ = stopped.changed() => break,
                }
            }
        });
        DispatcherHandle { stop, task, grace }
    }
}

/// Claims row `id` until `lease_until` when it is still undelivered, alive, due at `at` and
/// not leased by anyone; true when this call got it (exactly one row changed).
pub async fn claim(
    db: &DatabaseConnection,
    id: &str,
    at: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> AppResult<bool> {
    let result = Outbox::update_many()
        .col_expr(Column::LockedUntil, Expr::value(Some(lease_until)))
        .filter(Column::Id.eq(id))
        .filter(Column::DeliveredAt.is_null())
        .filter(Column::Dead.eq(false))
        .filter(Column::NextAttemptAt.lte(at))
        .filter(
            Condition::any()
                .add(Column::LockedUntil.is_null())
                .add(Column::LockedUntil.lt(at)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The wait after the `attempts`-th failure: `base · 2^(attempts − 1)`, capped at
/// [`MAX_BACKOFF`], then ±20% jitter.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let plain = base.saturating_mul(1u32 << exponent).min(MAX_BACKOFF);
    plain.mul_f64(rand::rng().random_range(0.8..=1.2))
}

/// The running dispatcher.
pub struct DispatcherHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    grace: Duration,
}

impl DispatcherHandle {
    /// Stops after the pass in progress (waiting at most one delivery timeout; a delivery
    /// cut short is retried once its lease expires).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(self.grace, self.task).await.is_err() {
            abort.abort();
        }
    }
}

/// Starts the dispatcher of a server. It gets its own small connection pool (so its polling
/// neither waits for nor shows in the request pool's statement counts), except on an
/// in-memory SQLite database, which only the server's own pool can see.
pub fn spawn(settings: &Settings, db: &DatabaseConnection) -> DispatcherHandle {
    let shared = db.clone();
    let url = (*settings.database_url).to_owned();
    let settings = settings.clone();
    // Chosen (and MAIL_DIR created) before the server accepts requests.
    let mailer = mail::from_settings(&settings);
    let (stop, mut stopped) = watch::channel(false);
    let grace = settings.upstream_timeout.saturating_mul(2) + Duration::from_secs(2);
    let task = tokio::spawn(async move {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let db = if in_memory {
            shared
        } else {
            match crate::db::connect(&url, 2, Arc::new(crate::db::DbStats::default())).await {
                Ok(own) => own,
                Err(err) => {
                    tracing::warn!(%err, "outbox dispatcher shares the request pool");
                    shared
                }
            }
        };
        let inner = Dispatcher::new(&settings, db, mailer).spawn();
        // Forward the stop signal; ignore a dropped sender (stop without a signal).
        let _ = stopped.changed().await;
        inner.stop().await;
    });
    DispatcherHandle { stop, task, grace }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_secs(5);
        for _ in 0..50 {
            let first = backoff(base, 1);
            assert!(first >= Duration::from_secs(4) && first <= Duration::from_secs(6));
            let third = backoff(base, 3);
            assert!(third >= Duration::from_secs(16) && third <= Duration::from_secs(24));
            let late = backoff(base, 19);
            assert!(late >= MAX_BACKOFF.mul_f64(0.8) && late <= MAX_BACKOFF.mul_f64(1.2));
            // Absurd attempt counts do not overflow.
            assert!(backoff(base, i32::MAX) <= MAX_BACKOFF.mul_f64(1.2));
        }
    }
}
