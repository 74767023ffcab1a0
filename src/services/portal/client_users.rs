//! Portal client users: provisioned and deactivated by PSA, signed in through Hub SSO
//! (`aud: "portal"`), and the permissions their role gives them (CONTRACT section 1).

use sea_orm::{
    ActiveEnum, ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect,
    sea_query::{Expr, OnConflict},
};
use serde_json::json;

use crate::services::{new_id, now, shared::audit, shared::outbox, shared::validate};
use crate::{
    auth::{Permission, PermissionSet, PrincipalKind, sso::HubClaims},
    domain::Domain,
    error::{AppError, AppResult},
    services::shared::sessions::{LoginOutcome, create_session},
};
use entities::client_users::{self, Column, Entity as ClientUsers};

/// A client user's role: the stored column's own type, stored in the form PSA's contact
/// pushes name it (`client_admin`, `client_user`).
pub use entities::client_users::ClientUserRole;

/// Parses the role of a PSA contact push; `None` for anything but `client_admin` and
/// `client_user`.
pub fn role_from_psa(text: &str) -> Option<ClientUserRole> {
    ClientUserRole::try_from_value(&text.to_owned()).ok()
}

/// The permissions a role gives: `client_admin` every `portal.*` permission, `client_user`
/// all but `portal.users.manage`.
pub fn role_permissions(role: ClientUserRole) -> PermissionSet {
    Permission::ALL
        .iter()
        .copied()
        .filter(|p| p.as_str().starts_with("portal."))
        .filter(|p| role == ClientUserRole::ClientAdmin || *p != Permission::UsersManage)
        .collect()
}

/// The role's permissions narrowed to the token's `permissions` claim when it has one.
pub fn effective_permissions(role: ClientUserRole, claim: Option<&[String]>) -> PermissionSet {
    let granted = role_permissions(role);
    match claim {
        None => granted,
        Some(names) => {
            let claimed = PermissionSet::from_names(names.iter().map(String::as_str), |p| {
                granted.contains(p)
            });
            granted.iter().filter(|p| claimed.contains(*p)).collect()
        }
    }
}

/// Creates the tenant row when it does not exist yet (PSA may provision before anyone of
/// the tenant has signed in); the name is the id until a Hub login names it.
pub async fn ensure_tenant(db: &impl ConnectionTrait, tenant_id: &str) -> AppResult<()> {
    let at = now();
    entities::tenants::Entity::insert(entities::tenants::ActiveModel {
        id: Set(tenant_id.to_owned()),
        name: Set(tenant_id.to_owned()),
        created_at: Set(at),
        updated_at: Set(at),
    })
    .on_conflict(
        OnConflict::column(entities::tenants::Column::Id)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// PSA's contact push (`POST /internal/psa/contacts`): as received, with the role as PSA's
/// text (`R = String`), and once validated, with the role parsed (`R = ClientUserRole`).
#[derive(Debug, Clone)]
pub struct ContactPush<R = String> {
    /// The tenant.
    pub tenant_id: String,
    /// PSA's contact id.
    pub contact_id: String,
    /// PSA's company id.
    pub company_id: String,
    /// The contact's e-mail (lower-cased here).
    pub email: String,
    /// The contact's name.
    pub name: String,
    /// Whether the contact may use Portal.
    pub portal_access: bool,
    /// `client_admin` or `client_user` (default).
    pub role: Option<R>,
    /// The contact's Mission member id, for Mission tenants.
    pub mission_member_id: Option<String>,
}

/// What a contact push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactOutcome {
    /// A new client user.
    Created,
    /// An existing client user was updated (or re-activated).
    Updated,
    /// Portal access was turned off: the user is inactive and its sessions are revoked.
    Deactivated,
    /// Access off for a contact Portal never knew: nothing to do.
    Ignored,
}

impl ContactOutcome {
    /// The lower-case name REST answers with.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactOutcome::Created => "created",
            ContactOutcome::Updated => "updated",
            ContactOutcome::Deactivated => "deactivated",
            ContactOutcome::Ignored => "ignored",
        }
    }
}

/// Validates the fields of a contact push (the HTTP layer has checked the JSON shape).
pub fn validate_contact(push: ContactPush) -> AppResult<ContactPush<ClientUserRole>> {
    let tenant_id = validate::id(&push.tenant_id, "tenant")
        .map_err(|_| AppError::bad_input("tenant_id must be a UUID"))?;
    let contact_id = validate::required(&push.contact_id, "contact_id", validate::MAX_NAME)?;
    let company_id = validate::required(&push.company_id, "company_id", validate::MAX_NAME)?;
    let email = validate::email(Some(&push.email), "email")?
        .ok_or_else(|| AppError::bad_input("email must not be empty"))?
        .to_lowercase();
    let name = validate::required(&push.name, "name", validate::MAX_NAME)?;
    let role = match push.role.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            role_from_psa(text)
                .ok_or_else(|| AppError::bad_input("role must be client_admin or client_user"))?,
        ),
    };
    let mission_member_id =
        validate::optional(push.mission_member_id.as_deref(), "mission_member_id", 200)?;
    Ok(ContactPush {
        tenant_id,
        contact_id,
        company_id,
        email,
        name,
        portal_access: push.portal_access,
        role,
        mission_member_id,
    })
}

/// Applies PSA's contact push: provisions, updates, re-activates or deactivates the client
/// user, in one transaction with its audit entry. Replays are harmless: the same push again
/// changes nothing but `updated_at`. Deactivation, a new role and a move to another company
/// revoke the user's sessions and close their live subscriptions: a session keeps the
/// permissions of its login, and a WebSocket the company of its `connection_init` for as long
/// as it is open.
pub async fn apply_contact(ctx: &Domain, push: ContactPush) -> AppResult<ContactOutcome> {
    let push = validate_contact(push)?;
    let at = now();
    let txn = crate::db::begin_write(&ctx.db).await?;
    ensure_tenant(&txn, &push.tenant_id).await?;
    let existing = ClientUsers::find()
        .filter(Column::TenantId.eq(&push.tenant_id))
        .filter(
            Condition::any()
                .add(Column::PsaContactId.eq(&push.contact_id))
                .add(Column::Email.eq(&push.email)),
        )
        .all(&txn)
        .await?;
    // The contact id wins over the e-mail when both match different rows.
    let existing = existing
        .iter()
        .find(|u| u.psa_contact_id.as_deref() == Some(push.contact_id.as_str()))
        .or_else(|| existing.first())
        .cloned();
    let mut revoked = Vec::new();
    let (outcome, user_id) = match (existing, push.portal_access) {
        (None, false) => (ContactOutcome::Ignored, None),
        (None, true) => {
            let id = new_id();
            ClientUsers::insert(client_users::ActiveModel {
                id: Set(id.clone()),
                tenant_id: Set(push.tenant_id.clone()),
                company_id: Set(push.company_id.clone()),
                psa_contact_id: Set(Some(push.contact_id.clone())),
                email: Set(push.email.clone()),
                name: Set(push.name.clone()),
                role: Set(push.role.unwrap_or(ClientUserRole::ClientUser)),
                active: Set(true),
                hub_sub: Set(None),
                mission_member_id: Set(push.mission_member_id.clone()),
                password_hash: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
                last_login_at: Set(None),
            })
            .exec_without_returning(&txn)
            .await
            .map_err(contact_conflict)?;
            (ContactOutcome::Created, Some(id))
        }
        (Some(user), access) => {
            let id = user.id.clone();
            let was_active = user.active;
            // A session keeps the permissions and company of its login: a new role or
            // company must sign in again.
            let role_changed = push.role.is_some_and(|role| role != user.role);
            let company_changed = push.company_id != user.company_id;
            let mut model = user.into_active_model();
            model.psa_contact_id = Set(Some(push.contact_id.clone()));
            model.company_id = Set(push.company_id.clone());
            model.email = Set(push.email.clone());
            model.name = Set(push.name.clone());
            if let Some(role) = push.role {
                model.role = Set(role);
            }
            if push.mission_member_id.is_some() {
                model.mission_member_id = Set(push.mission_member_id.clone());
            }
            model.active = Set(access);
            model.updated_at = Set(at);
            model.update(&txn).await.map_err(contact_conflict)?;
            if access {
                if (role_changed || company_changed) && was_active {
                    revoked = revoke_sessions(&txn, &push.tenant_id, &id).await?;
                }
                (ContactOutcome::Updated, Some(id))
            } else {
                if was_active {
                    revoked = revoke_sessions(&txn, &push.tenant_id, &id).await?;
                }
                (ContactOutcome::Deactivated, Some(id))
            }
        }
    };
    if let Some(user_id) = &user_id {
        audit::record(
            &txn,
            &push.tenant_id,
            "integration:psa",
            &format!("client_user.{}", outcome.as_str()),
            Some(user_id),
            Some(format!("psa contact {}", push.contact_id)),
        )
        .await?;
    }
    txn.commit().await?;
    for session in revoked {
        ctx.hub.publish_revocation(&session);
    }
    Ok(outcome)
}

/// A unique violation while applying a contact push: the e-mail belongs to another contact
/// of the tenant, or the same first push raced itself. PSA may retry; nothing was changed.
fn contact_conflict(err: sea_orm::DbErr) -> AppError {
    if crate::db::is_unique_violation(&err) {
        AppError::Conflict("another client user of the tenant has this e-mail or contact".into())
    } else {
        err.into()
    }
}

/// Revokes every live session of client user `user_id` inside the caller's transaction and
/// returns their ids, for the caller to publish once it has committed.
pub async fn revoke_sessions(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
) -> AppResult<Vec<String>> {
    use entities::sessions::{Column as S, Entity as Sessions};
    let ids: Vec<String> = Sessions::find()
        .select_only()
        .column(S::Id)
        .filter(S::TenantId.eq(tenant_id))
        .filter(S::Kind.eq(PrincipalKind::Client.as_str()))
        .filter(S::UserId.eq(user_id))
        .filter(S::RevokedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    if !ids.is_empty() {
        Sessions::update_many()
            .col_expr(S::RevokedAt, Expr::value(now()))
            .filter(S::Id.is_in(ids.clone()))
            .exec(db)
            .await?;
    }
    Ok(ids)
}

/// Why a portal SSO login was refused, as `auth.login_failed` names it.
#[derive(Debug)]
pub struct Refused(pub &'static str);

/// Signs a client user in from a verified, unreplayed `portal` token: found by tenant and
/// lower-cased e-mail, active, and bound to Hub's `sub` on the first login.
pub async fn hub_login(
    ctx: &Domain,
    claims: &HubClaims,
) -> AppResult<Result<LoginOutcome, Refused>> {
    let Some(email) = claims.email.as_deref().map(|e| e.trim().to_lowercase()) else {
        return Ok(Err(Refused("account_not_found")));
    };
    let txn = crate::db::begin_write(&ctx.db).await?;
    let Some(user) = ClientUsers::find()
        .filter(Column::TenantId.eq(&claims.tenant_id))
        .filter(Column::Email.eq(&email))
        .one(&txn)
        .await?
    else {
        return Ok(Err(Refused("account_not_found")));
    };
    if !user.active {
        return Ok(Err(Refused("inactive")));
    }
    if user.hub_sub.as_deref().is_some_and(|sub| sub != claims.sub) {
        return Ok(Err(Refused("sub_mismatch")));
    }
    let at = now();
    let permissions = effective_permissions(user.role, claims.permissions.as_deref());
    let user_id = user.id.clone();
    let company_id = user.company_id.clone();
    // Conditional on the `sub` read above: bound to this one or still unbound. A login that
    // bound another `sub` (or deactivated the user) since the read changes the row, this
    // update then matches nothing, and the login is refused as a mismatch.
    let mut update = ClientUsers::update_many()
        .col_expr(Column::HubSub, Expr::value(claims.sub.clone()))
        .col_expr(Column::LastLoginAt, Expr::value(at))
        .col_expr(Column::UpdatedAt, Expr::value(at))
        .filter(Column::Id.eq(&user_id))
        .filter(Column::TenantId.eq(&claims.tenant_id))
        .filter(Column::Active.eq(true))
        .filter(
            Condition::any()
                .add(Column::HubSub.is_null())
                .add(Column::HubSub.eq(&claims.sub)),
        );
    if let Some(member) = claims.mission_member_id.as_deref().map(str::trim)
        && !member.is_empty()
    {
        update = update.col_expr(
            Column::MissionMemberId,
            Expr::value(member.chars().take(200).collect::<String>()),
        );
    }
    if update.exec(&txn).await?.rows_affected != 1 {
        return Ok(Err(Refused("sub_mismatch")));
    }
    let mut outcome = create_session(
        &txn,
        &claims.tenant_id,
        PrincipalKind::Client,
        &user_id,
        permissions,
    )
    .await?;
    outcome.principal.company_id = Some(company_id);
    outbox::bus_event(
        &txn,
        &claims.tenant_id,
        "auth.hub_sso_login",
        "portal",
        at,
        json!({"user_id": user_id, "kind": PrincipalKind::Client.as_str(), "audience": "portal"}),
    )
    .await?;
    txn.commit().await?;
    Ok(Ok(outcome))
}

/// The id of the active client user with `email` (lower-cased) in the tenant.
pub async fn active_company_user(
    ctx: &Domain,
    tenant_id: &str,
    email: &str,
) -> AppResult<Option<String>> {
    Ok(ClientUsers::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::Email.eq(email.to_lowercase()))
        .filter(Column::Active.eq(true))
        .into_tuple()
        .one(&ctx.db)
        .await?)
}

/// The company of an active client user, for authenticating its session; `None` when the
/// user no longer exists or is inactive.
pub async fn active_company(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
) -> AppResult<Option<String>> {
    Ok(ClientUsers::find()
        .select_only()
        .column(Column::CompanyId)
        .filter(Column::Id.eq(user_id))
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::Active.eq(true))
        .into_tuple()
        .one(db)
        .await?)
}
