//! Runs the migrator up and down and round-trips every entity.
//!
//! Always runs against in-memory SQLite. Set `TEST_DATABASE_URL` (an
//! empty, disposable PostgreSQL database) to run the same checks there.

use entities::{
    audit_log, badges, hosts, kiosk_pairing_codes, kiosks, locations, outbox, pre_registrations,
    sessions, tenants, used_token_ids, users, visitor_settings, visitors, visits,
};
use migrations::{Migrator, MigratorTrait, SchemaManager};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, Database, DatabaseConnection, QueryOrder};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const TABLES: [&str; 15] = [
    "tenants",
    "users",
    "sessions",
    "used_token_ids",
    "locations",
    "hosts",
    "visitors",
    "kiosks",
    "pre_registrations",
    "badges",
    "visits",
    "kiosk_pairing_codes",
    "visitor_settings",
    "audit_log",
    "outbox",
];

fn ts(secs: i64) -> Result<DateTimeUtc, Box<dyn std::error::Error>> {
    ChronoDateTimeUtc::from_timestamp(secs, 0).ok_or_else(|| "bad timestamp".into())
}

async fn assert_tables(db: &DatabaseConnection, present: bool) -> TestResult {
    let manager = SchemaManager::new(db);
    for table in TABLES {
        assert_eq!(manager.has_table(table).await?, present, "table {table}");
    }
    Ok(())
}

async fn seed_and_query(db: &DatabaseConnection) -> TestResult {
    let t0 = ts(1_700_000_000)?;
    let t1 = ts(1_700_003_600)?;

    tenants::ActiveModel {
        id: Set("t1".into()),
        name: Set("Tenant".into()),
        created_at: Set(t0),
        updated_at: Set(t0),
    }
    .insert(db)
    .await?;

    users::ActiveModel {
        id: Set("u1".into()),
        tenant_id: Set("t1".into()),
        hub_sub: Set("sub-1".into()),
        email: Set(None),
        name: Set("Staff".into()),
        role: Set(Some("admin".into())),
        created_at: Set(t0),
        updated_at: Set(t0),
        last_login_at: Set(Some(t1)),
    }
    .insert(db)
    .await?;
    // UNIQUE(tenant_id, hub_sub)
    let dup = users::ActiveModel {
        id: Set("u2".into()),
        tenant_id: Set("t1".into()),
        hub_sub: Set("sub-1".into()),
        email: Set(None),
        name: Set("Dup".into()),
        role: Set(None),
        created_at: Set(t0),
        updated_at: Set(t0),
        last_login_at: Set(None),
    }
    .insert(db)
    .await;
    assert!(dup.is_err(), "duplicate (tenant_id, hub_sub) accepted");

    sessions::ActiveModel {
        id: Set("s1".into()),
        token_hash: Set("th1".into()),
        tenant_id: Set("t1".into()),
        kind: Set("staff".into()),
        user_id: Set("u1".into()),
        permissions: Set(r#"["visits:read"]"#.into()),
        created_at: Set(t0),
        expires_at: Set(t1),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;

    used_token_ids::ActiveModel {
        jti: Set("jti-1".into()),
        expires_at: Set(t1),
        used_at: Set(t0),
    }
    .insert(db)
    .await?;

    locations::ActiveModel {
        id: Set("l1".into()),
        tenant_id: Set("t1".into()),
        name: Set("HQ".into()),
        address: Set(None),
        location_type: Set(locations::LocationType::Office),
        timezone: Set("Europe/Berlin".into()),
        archived: Set(false),
        created_at: Set(t0),
        updated_at: Set(t0),
    }
    .insert(db)
    .await?;

    hosts::ActiveModel {
        id: Set("h1".into()),
        tenant_id: Set("t1".into()),
        name: Set("Host".into()),
        email: Set(Some("host@example.com".into())),
        phone: Set(None),
        department: Set(None),
        location_id: Set(Some("l1".into())),
        visible_in_directory: Set(true),
        removed: Set(false),
        created_at: Set(t0),
        updated_at: Set(t0),
    }
    .insert(db)
    .await?;

    visitors::ActiveModel {
        id: Set("v1".into()),
        tenant_id: Set("t1".into()),
        name: Set("Visitor".into()),
        email: Set(Some("V@Example.com".into())),
        email_normalized: Set(Some("v@example.com".into())),
        phone: Set(None),
        company: Set(Some("ACME".into())),
        ai_risk_score: Set(Some(0.25)),
        ai_risk_notes: Set(None),
        anonymized_at: Set(None),
        created_at: Set(t0),
        updated_at: Set(t0),
    }
    .insert(db)
    .await?;

    kiosks::ActiveModel {
        id: Set("k1".into()),
        tenant_id: Set("t1".into()),
        location_id: Set("l1".into()),
        name: Set("Lobby".into()),
        token_hash: Set("kh1".into()),
        paired_at: Set(t0),
        last_seen_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;

    pre_registrations::ActiveModel {
        id: Set("p1".into()),
        tenant_id: Set("t1".into()),
        location_id: Set("l1".into()),
        host_id: Set(Some("h1".into())),
        visitor_id: Set("v1".into()),
        code_hash: Set("ch1".into()),
        expected_at: Set(t0),
        expires_at: Set(t1),
        status: Set(pre_registrations::StoredPreRegistrationStatus::Expected),
        visit_id: Set(None),
        created_by: Set("user:u1".into()),
        created_at: Set(t0),
    }
    .insert(db)
    .await?;

    badges::ActiveModel {
        id: Set("b1".into()),
        tenant_id: Set("t1".into()),
        location_id: Set("l1".into()),
        number: Set("001".into()),
        status: Set(badges::BadgeStatus::Available),
        current_visit_id: Set(None),
        created_at: Set(t0),
        updated_at: Set(t0),
    }
    .insert(db)
    .await?;

    let visit = visits::ActiveModel {
        id: Set("vi1".into()),
        tenant_id: Set("t1".into()),
        visitor_id: Set("v1".into()),
        location_id: Set("l1".into()),
        host_id: Set(Some("h1".into())),
        badge_id: Set(Some("b1".into())),
        pre_registration_id: Set(Some("p1".into())),
        kiosk_id: Set(Some("k1".into())),
        status: Set(visits::VisitStatus::CheckedIn),
        source: Set(visits::CheckInSource::Kiosk),
        purpose: Set(None),
        checked_in_at: Set(t0),
        checked_out_at: Set(None),
        checked_in_by: Set("kiosk:k1".into()),
    }
    .insert(db)
    .await?;
    assert_eq!(visit.checked_in_at, t0);

    // Foreign keys are enforced.
    let orphan = visits::ActiveModel {
        id: Set("vi2".into()),
        tenant_id: Set("t1".into()),
        visitor_id: Set("missing".into()),
        location_id: Set("l1".into()),
        host_id: Set(None),
        badge_id: Set(None),
        pre_registration_id: Set(None),
        kiosk_id: Set(None),
        status: Set(visits::VisitStatus::CheckedIn),
        source: Set(visits::CheckInSource::Staff),
        purpose: Set(None),
        checked_in_at: Set(t0),
        checked_out_at: Set(None),
        checked_in_by: Set("user:u1".into()),
    }
    .insert(db)
    .await;
    assert!(orphan.is_err(), "visit with unknown visitor accepted");

    kiosk_pairing_codes::ActiveModel {
        id: Set("kp1".into()),
        tenant_id: Set("t1".into()),
        location_id: Set("l1".into()),
        code_hash: Set("kpc1".into()),
        expires_at: Set(t1),
        used_at: Set(None),
        created_by: Set("user:u1".into()),
        created_at: Set(t0),
    }
    .insert(db)
    .await?;

    visitor_settings::ActiveModel {
        tenant_id: Set("t1".into()),
        retention_days: Set(90),
        require_host: Set(true),
        require_badge: Set(false),
        auto_checkout_at: Set(Some("18:00".into())),
        updated_at: Set(t0),
    }
    .insert(db)
    .await?;

    audit_log::ActiveModel {
        id: Set("a1".into()),
        tenant_id: Set("t1".into()),
        at: Set(t0),
        actor: Set("user:u1".into()),
        action: Set("visit.check_in".into()),
        target: Set(Some("vi1".into())),
        details: Set(None),
    }
    .insert(db)
    .await?;

    // Insert relying on DB defaults for attempts/dead.
    outbox::ActiveModel {
        id: Set("o1".into()),
        tenant_id: Set(None),
        kind: Set(outbox::OutboxKind::Bus),
        event_type: Set("visit.checked_in".into()),
        payload: Set("{}".into()),
        created_at: Set(t0),
        next_attempt_at: Set(t0),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let o = outbox::Entity::find_by_id("o1")
        .one(db)
        .await?
        .ok_or("outbox row missing")?;
    assert_eq!(o.attempts, 0);
    assert!(!o.dead);

    // Relation queries.
    let with_visitor = visits::Entity::find()
        .filter(visits::Column::TenantId.eq("t1"))
        .order_by_desc(visits::Column::CheckedInAt)
        .find_also_related(visitors::Entity)
        .all(db)
        .await?;
    assert_eq!(with_visitor.len(), 1);
    assert_eq!(
        with_visitor[0].1.as_ref().map(|v| v.name.as_str()),
        Some("Visitor")
    );
    let loc = locations::Entity::find_by_id("l1")
        .one(db)
        .await?
        .ok_or("location missing")?;
    assert_eq!(loc.find_related(visits::Entity).all(db).await?.len(), 1);
    assert_eq!(loc.find_related(kiosks::Entity).all(db).await?.len(), 1);
    let tenant = tenants::Entity::find_by_id("t1")
        .one(db)
        .await?
        .ok_or("tenant missing")?;
    let settings = tenant
        .find_related(visitor_settings::Entity)
        .one(db)
        .await?
        .ok_or("settings missing")?;
    assert_eq!(settings.retention_days, 90);

    // Deleting a badge nulls visits.badge_id; deleting the tenant cascades.
    badges::Entity::delete_by_id("b1").exec(db).await?;
    let v = visits::Entity::find_by_id("vi1")
        .one(db)
        .await?
        .ok_or("visit missing")?;
    assert_eq!(v.badge_id, None);
    tenants::Entity::delete_by_id("t1").exec(db).await?;
    assert_eq!(visits::Entity::find().count(db).await?, 0);
    assert_eq!(visitors::Entity::find().count(db).await?, 0);
    assert_eq!(locations::Entity::find().count(db).await?, 0);
    Ok(())
}

/// Indexes added after the foundation: (table, index).
const LATER_INDEXES: [(&str, &str); 3] = [
    ("visits", "idx_visits_tenant_location_checked_in"),
    ("visits", "idx_visits_tenant_host_checked_in"),
    ("badges", "idx_badges_current_visit"),
];

async fn assert_later_indexes(db: &DatabaseConnection, present: bool) -> TestResult {
    let manager = SchemaManager::new(db);
    for (table, index) in LATER_INDEXES {
        assert_eq!(
            manager.has_index(table, index).await?,
            present,
            "index {index}"
        );
    }
    Ok(())
}

/// Tables of the Portal migration.
const PORTAL_TABLES: [&str; 10] = [
    "client_users",
    "password_tokens",
    "tickets",
    "ticket_comments",
    "invoices",
    "signing_requests",
    "acknowledgements",
    "job_leases",
    "sync_runs",
    "sync_cursors",
];

async fn assert_portal_tables(db: &DatabaseConnection, present: bool) -> TestResult {
    let manager = SchemaManager::new(db);
    for table in PORTAL_TABLES {
        assert_eq!(manager.has_table(table).await?, present, "table {table}");
    }
    Ok(())
}

const INTEGRATION_TABLES: [&str; 2] = ["integration_keys", "inbound_events"];
const BILLING_TABLES: [&str; 1] = ["billing_reports"];

async fn assert_billing_tables(db: &DatabaseConnection, present: bool) -> TestResult {
    let manager = SchemaManager::new(db);
    for table in BILLING_TABLES {
        assert_eq!(manager.has_table(table).await?, present, "table {table}");
    }
    Ok(())
}

async fn assert_integration_tables(db: &DatabaseConnection, present: bool) -> TestResult {
    let manager = SchemaManager::new(db);
    for table in INTEGRATION_TABLES {
        assert_eq!(manager.has_table(table).await?, present, "table {table}");
    }
    Ok(())
}

/// What the integration-health migration adds: two columns of `sync_runs` and an outbox index.
async fn assert_health_columns(db: &DatabaseConnection, present: bool) -> TestResult {
    let manager = SchemaManager::new(db);
    for column in ["shared_error", "tenant_errors"] {
        assert_eq!(
            manager.has_column("sync_runs", column).await?,
            present,
            "sync_runs.{column}"
        );
    }
    assert_eq!(
        manager
            .has_index("outbox", "idx_outbox_tenant_kind_delivered")
            .await?,
        present,
        "idx_outbox_tenant_kind_delivered"
    );
    Ok(())
}

/// Whether the search indexes are there: the FTS5 tables on SQLite, the trigram indexes on
/// PostgreSQL.
async fn assert_search_indexes(db: &DatabaseConnection, present: bool) -> TestResult {
    let manager = SchemaManager::new(db);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        for table in ["visitors_search", "locations_search"] {
            assert_eq!(manager.has_table(table).await?, present, "table {table}");
        }
    } else {
        for (table, index) in [
            ("visitors", "idx_visitors_name_trgm"),
            ("visitors", "idx_visitors_company_trgm"),
            ("locations", "idx_locations_name_trgm"),
            ("locations", "idx_locations_address_trgm"),
        ] {
            assert_eq!(
                manager.has_index(table, index).await?,
                present,
                "index {index}"
            );
        }
    }
    Ok(())
}

async fn exercise(db: &DatabaseConnection) -> TestResult {
    Migrator::up(db, None).await?;
    assert_tables(db, true).await?;
    assert_portal_tables(db, true).await?;
    assert_integration_tables(db, true).await?;
    assert_billing_tables(db, true).await?;
    assert_later_indexes(db, true).await?;
    assert_search_indexes(db, true).await?;
    assert_health_columns(db, true).await?;
    assert!(
        SchemaManager::new(db)
            .has_index("visits", "idx_visits_checked_in_id")
            .await?
    );
    // The newest migration (integration health) alone goes down: its columns and index go.
    Migrator::down(db, Some(1)).await?;
    assert_health_columns(db, false).await?;
    assert_search_indexes(db, true).await?;
    assert_billing_tables(db, true).await?;
    // Then the cross-tenant check-in index.
    Migrator::down(db, Some(1)).await?;
    assert!(
        !SchemaManager::new(db)
            .has_index("visits", "idx_visits_checked_in_id")
            .await?
    );
    assert_search_indexes(db, true).await?;
    // Then the search indexes: they go, the rest stay.
    Migrator::down(db, Some(1)).await?;
    assert_search_indexes(db, false).await?;
    assert_billing_tables(db, true).await?;
    // Then billing reports: its table goes, the rest stay.
    Migrator::down(db, Some(1)).await?;
    assert_billing_tables(db, false).await?;
    assert_integration_tables(db, true).await?;
    // Then the integration keys: their tables go, the rest stay.
    Migrator::down(db, Some(1)).await?;
    assert_integration_tables(db, false).await?;
    assert_billing_tables(db, false).await?;
    assert_portal_tables(db, true).await?;
    // Then the Portal migration: its tables go, the rest stay.
    Migrator::down(db, Some(1)).await?;
    assert_portal_tables(db, false).await?;
    assert_tables(db, true).await?;
    assert_later_indexes(db, true).await?;
    // Then the index migration: its indexes go, the tables stay.
    Migrator::down(db, Some(1)).await?;
    assert_tables(db, true).await?;
    assert_later_indexes(db, false).await?;
    Migrator::up(db, None).await?;
    assert_later_indexes(db, true).await?;
    assert_portal_tables(db, true).await?;
    assert_integration_tables(db, true).await?;
    assert_search_indexes(db, true).await?;
    seed_and_query(db).await?;
    Migrator::down(db, None).await?;
    assert_tables(db, false).await?;
    assert_portal_tables(db, false).await?;
    assert_integration_tables(db, false).await?;
    assert_billing_tables(db, false).await?;
    assert_search_indexes(db, false).await?;
    // Up again after a full down must work.
    Migrator::up(db, None).await?;
    assert_tables(db, true).await?;
    Migrator::down(db, None).await?;
    assert_tables(db, false).await?;
    Ok(())
}

#[tokio::test]
async fn migrate_up_down_sqlite() -> TestResult {
    let db = Database::connect("sqlite::memory:").await?;
    exercise(&db).await
}

#[tokio::test]
async fn migrate_up_down_postgres() -> TestResult {
    let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("TEST_DATABASE_URL not set; skipping PostgreSQL test");
        return Ok(());
    };
    // A database of its own: running `down` on a shared one would break concurrent tests.
    let admin = Database::connect(url.as_str()).await?;
    let name = format!("og_migrator_{}", std::process::id());
    sea_orm::ConnectionTrait::execute_unprepared(
        &admin,
        &format!("DROP DATABASE IF EXISTS {name}"),
    )
    .await?;
    sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("CREATE DATABASE {name}"))
        .await?;
    let (prefix, _) = url
        .rsplit_once('/')
        .ok_or("TEST_DATABASE_URL must end with /<database>")?;
    let db = Database::connect(format!("{prefix}/{name}")).await?;
    let result = exercise(&db).await;
    db.close().await?;
    sea_orm::ConnectionTrait::execute_unprepared(
        &admin,
        &format!("DROP DATABASE IF EXISTS {name}"),
    )
    .await?;
    result
}
