//! `serve --demo`: an idempotent demo tenant with two locations, hosts, badges and a day of
//! visits, a Portal client admin of one company, and a session for each to explore with.

use chrono::Duration;
use entities::{
    badges::BadgeStatus,
    client_users::ClientUserRole,
    locations::LocationType,
    visits::{CheckInSource, VisitStatus},
};
use sea_orm::{
    ActiveEnum, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, sea_query::OnConflict,
};

use crate::services::{now, shared::sessions};
use crate::{
    auth::{PermissionSet, PrincipalKind},
    domain::Domain,
    error::AppResult,
};

/// The demo tenant's fixed id.
pub const TENANT_ID: &str = "00000000-0000-4000-8000-000000000001";
const USER_ID: &str = "00000000-0000-4000-8000-0000000000a1";

fn id(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// The demo client user's company (a PSA company id).
pub const CLIENT_COMPANY: &str = "DEMO-COMPANY-1";

/// The sessions `serve --demo` prints.
#[derive(Debug, Clone)]
pub struct DemoSessions {
    /// A staff session with every Visitor permission.
    pub staff: sessions::LoginOutcome,
    /// A Portal client admin's session.
    pub client: sessions::LoginOutcome,
}

/// Seeds the demo tenant (once) and opens a staff session with every Visitor permission
/// and a session of the demo client admin (provisioned as PSA would).
pub async fn seed(ctx: &Domain) -> AppResult<DemoSessions> {
    let staff = seed_visitor(ctx).await?;
    crate::services::portal::client_users::apply_contact(
        ctx,
        crate::services::portal::client_users::ContactPush {
            tenant_id: TENANT_ID.into(),
            contact_id: "demo-contact-1".into(),
            company_id: CLIENT_COMPANY.into(),
            email: "client@demo.example".into(),
            name: "Demo Client".into(),
            portal_access: true,
            role: Some(ClientUserRole::ClientAdmin.to_value()),
            mission_member_id: None,
        },
    )
    .await?;
    let client_id = crate::services::portal::client_users::active_company_user(
        ctx,
        TENANT_ID,
        "client@demo.example",
    )
    .await?
    .ok_or_else(|| crate::error::AppError::internal("demo client user missing"))?;
    let mut client = sessions::create_session(
        &ctx.db,
        TENANT_ID,
        PrincipalKind::Client,
        &client_id,
        crate::services::portal::client_users::role_permissions(ClientUserRole::ClientAdmin),
    )
    .await?;
    client.principal.company_id = Some(CLIENT_COMPANY.into());
    Ok(DemoSessions { staff, client })
}

async fn seed_visitor(ctx: &Domain) -> AppResult<sessions::LoginOutcome> {
    let db = &ctx.db;
    let at = now();
    let txn = crate::db::begin_write(db).await?;
    entities::tenants::Entity::insert(entities::tenants::ActiveModel {
        id: Set(TENANT_ID.into()),
        name: Set("Demo Organisation".into()),
        created_at: Set(at),
        updated_at: Set(at),
    })
    .on_conflict(
        OnConflict::column(entities::tenants::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    entities::users::Entity::insert(entities::users::ActiveModel {
        id: Set(USER_ID.into()),
        tenant_id: Set(TENANT_ID.into()),
        hub_sub: Set("demo-admin".into()),
        email: Set(Some("admin@demo.example".into())),
        name: Set("Demo Admin".into()),
        role: Set(Some("admin".into())),
        created_at: Set(at),
        updated_at: Set(at),
        last_login_at: Set(Some(at)),
    })
    .on_conflict(
        OnConflict::column(entities::users::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let seeded = entities::locations::Entity::find()
        .filter(entities::locations::Column::TenantId.eq(TENANT_ID))
        .count(&txn)
        .await?
        > 0;
    if !seeded {
        let locations = [
            (
                id(101),
                "Head Office",
                "1 Main Street, Springfield",
                LocationType::Office,
                "America/New_York",
            ),
            (
                id(102),
                "North Campus",
                "200 College Road, Leeds",
                LocationType::Campus,
                "Europe/London",
            ),
        ];
        for (lid, name, address, kind, tz) in &locations {
            entities::locations::Entity::insert(
                entities::locations::Model {
                    id: lid.clone(),
                    tenant_id: TENANT_ID.into(),
                    name: (*name).into(),
                    address: Some((*address).into()),
                    location_type: *kind,
                    timezone: (*tz).into(),
                    archived: false,
                    created_at: at,
                    updated_at: at,
                }
                .into_active_model(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        let hosts = [
            (
                id(201),
                "Ada Lovelace",
                "ada@demo.example",
                "Engineering",
                &locations[0].0,
            ),
            (
                id(202),
                "Alan Turing",
                "alan@demo.example",
                "Research",
                &locations[0].0,
            ),
            (
                id(203),
                "Grace Hopper",
                "grace@demo.example",
                "Operations",
                &locations[1].0,
            ),
        ];
        for (hid, name, email, dept, lid) in &hosts {
            entities::hosts::Entity::insert(
                entities::hosts::Model {
                    id: hid.clone(),
                    tenant_id: TENANT_ID.into(),
                    name: (*name).into(),
                    email: Some((*email).into()),
                    phone: Some("+1 555 0100".into()),
                    department: Some((*dept).into()),
                    location_id: Some((*lid).clone()),
                    visible_in_directory: true,
                    removed: false,
                    created_at: at,
                    updated_at: at,
                }
                .into_active_model(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        for n in 0..10u32 {
            let lid = &locations[(n % 2) as usize].0;
            entities::badges::Entity::insert(
                entities::badges::Model {
                    id: id(300 + n),
                    tenant_id: TENANT_ID.into(),
                    location_id: lid.clone(),
                    number: format!("B-{:03}", n + 1),
                    status: BadgeStatus::Available,
                    current_visit_id: None,
                    created_at: at,
                    updated_at: at,
                }
                .into_active_model(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        let visitors = [
            ("Katherine Johnson", "NASA"),
            ("Margaret Hamilton", "MIT"),
            ("Tim Berners-Lee", "CERN"),
            ("Barbara Liskov", "MIT"),
            ("Donald Knuth", "Stanford"),
            ("Frances Allen", "IBM"),
            ("Edsger Dijkstra", "Eindhoven"),
            ("Radia Perlman", "Intel"),
        ];
        // From the truncated `now()`: cursors carry microseconds, so a timestamp with
        // nanoseconds would make paging the demo log skip rows.
        let start = at - Duration::hours(9);
        for (n, (name, company)) in visitors.iter().enumerate() {
            let n32 = u32::try_from(n).unwrap_or(0);
            let vid = id(400 + n32);
            entities::visitors::Entity::insert(
                entities::visitors::Model {
                    id: vid.clone(),
                    tenant_id: TENANT_ID.into(),
                    name: (*name).into(),
                    email: None,
                    email_normalized: None,
                    phone: None,
                    company: Some((*company).into()),
                    ai_risk_score: None,
                    ai_risk_notes: None,
                    anonymized_at: None,
                    created_at: at,
                    updated_at: at,
                }
                .into_active_model(),
            )
            .exec_without_returning(&txn)
            .await?;
            let checked_in = at.min(start + Duration::minutes(65 * i64::from(n32)));
            let open = n >= 5;
            entities::visits::Entity::insert(
                entities::visits::Model {
                    id: id(500 + n32),
                    tenant_id: TENANT_ID.into(),
                    visitor_id: vid,
                    location_id: locations[n % 2].0.clone(),
                    host_id: Some(hosts[n % 3].0.clone()),
                    badge_id: None,
                    pre_registration_id: None,
                    kiosk_id: None,
                    status: if open {
                        VisitStatus::CheckedIn
                    } else {
                        VisitStatus::CheckedOut
                    },
                    source: CheckInSource::Staff,
                    purpose: Some("Meeting".into()),
                    checked_in_at: checked_in,
                    checked_out_at: (!open).then(|| checked_in + Duration::minutes(45)),
                    checked_in_by: format!("staff:{USER_ID}"),
                }
                .into_active_model(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
    }
    let session = sessions::create_session(
        &txn,
        TENANT_ID,
        PrincipalKind::Staff,
        USER_ID,
        PermissionSet::all_visitor(),
    )
    .await?;
    txn.commit().await?;
    Ok(session)
}

/// The query printed after seeding (run by the operations test, like every document in
/// `schema/operations/`).
pub const EXAMPLE_QUERY: &str = include_str!("../../schema/operations/Today.graphql");

/// The Portal operations printed after seeding (with the client token).
pub const EXAMPLE_CLIENT_OPERATIONS: [&str; 2] = [
    include_str!("../../schema/operations/Open.graphql"),
    include_str!("../../schema/operations/Mine.graphql"),
];

/// The subscription printed for a second tab.
pub const EXAMPLE_SUBSCRIPTION: &str = include_str!("../../schema/operations/LiveCheckIns.graphql");

/// A random 48-character secret for a demo run without `PORTAL_CLIENT_SSO_SECRET`.
pub fn random_secret() -> String {
    crate::auth::tokens::new_token("demo_")
}

/// Prints where to go, the two tokens and the example operations after seeding.
pub fn print_banner(public_url: &str, sessions: &DemoSessions) {
    println!("\nDemo tenant ready. Open {public_url}/graphql in a browser (GraphiQL).");
    println!(
        "Paste this staff token into GraphiQL's token field (or send it as `Authorization: Bearer …`):\n"
    );
    println!("    {}\n", sessions.staff.token);
    println!("Example query:\n\n{}\n", EXAMPLE_QUERY.trim_end());
    println!(
        "Portal: the client admin client@demo.example of company {CLIENT_COMPANY}, with this token:\n\n    {}\n",
        sessions.client.token
    );
    println!(
        "Example Portal operations:\n\n{}\n",
        EXAMPLE_CLIENT_OPERATIONS.map(str::trim_end).join("\n")
    );
    println!(
        "Live check-ins (second tab):\n\n    {}\n",
        EXAMPLE_SUBSCRIPTION.trim_end()
    );
}
