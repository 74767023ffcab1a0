//! Portal client identity besides Hub SSO (CONTRACT sections 1 and 6 "E-mail"): password
//! login, invitations by a company's client admin, the company's user list, password-reset
//! requests and `setPassword`, which consumes an invitation or reset token.

use chrono::Duration;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

use crate::services::{
    new_id, now,
    portal::client_users::{self, ClientUserRole},
    shared::audit,
    shared::outbox,
    shared::page,
    shared::validate,
};
use crate::{
    auth::{Permission, Principal, PrincipalKind, passwords, tokens},
    domain::Domain,
    error::{AppError, AppResult},
    services::shared::sessions::{LoginOutcome, create_session},
};
use entities::{
    client_users::{Column, Entity as ClientUsers, Model as ClientUser},
    password_tokens::{Column as T, Entity as PasswordTokens, PasswordTokenPurpose},
};

/// Prefix of invitation and reset tokens, so a token names its own kind.
pub const TOKEN_PREFIX: &str = "ogp_";
/// Invitations are valid for 7 days.
pub const INVITE_DAYS: i64 = 7;
/// Reset links are valid for 1 hour.
pub const RESET_HOURS: i64 = 1;

/// At most this many unused, unexpired reset links per user; further requests still answer
/// true but send nothing, so nobody can flood a user's mailbox.
pub const MAX_OPEN_RESETS: u64 = 5;

/// The one answer to every failed password login, whatever the cause.
fn invalid_login() -> AppError {
    AppError::Unauthenticated("Invalid e-mail or password".into())
}

fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Signs a client user in with tenant, e-mail and password. Unknown tenants and e-mails,
/// inactive users, users without a password and wrong passwords all verify one argon2id hash
/// (a dummy one when there is no usable hash) and give the same error. Emits no Bus event.
pub async fn password_login(
    ctx: &Domain,
    tenant_id: &str,
    email: &str,
    password: String,
) -> AppResult<LoginOutcome> {
    let email = normalize_email(email);
    let user = match validate::id(tenant_id, "Tenant") {
        Ok(tenant_id) if !email.is_empty() && email.len() <= 254 => {
            ClientUsers::find()
                .filter(Column::TenantId.eq(tenant_id))
                .filter(Column::Email.eq(&email))
                .one(&ctx.db)
                .await?
        }
        _ => None,
    };
    let stored = user
        .as_ref()
        .filter(|u| u.active)
        .and_then(|u| u.password_hash.clone());
    let too_long = password.chars().count() > passwords::MAX_CHARS;
    let matches = passwords::verify(password, stored).await?;
    let user = match user {
        Some(user) if matches && !too_long => user,
        _ => {
            tracing::info!("password login refused");
            return Err(invalid_login());
        }
    };
    let at = now();
    let txn = crate::db::begin_write(&ctx.db).await?;
    let touched = ClientUsers::update_many()
        .col_expr(Column::LastLoginAt, Expr::value(at))
        .filter(Column::Id.eq(&user.id))
        .filter(Column::Active.eq(true))
        .exec(&txn)
        .await?;
    if touched.rows_affected != 1 {
        // Deactivated while the password was being verified.
        return Err(invalid_login());
    }
    let mut outcome = create_session(
        &txn,
        &user.tenant_id,
        PrincipalKind::Client,
        &user.id,
        client_users::role_permissions(user.role),
    )
    .await?;
    outcome.principal.company_id = Some(user.company_id.clone());
    txn.commit().await?;
    Ok(outcome)
}

/// The caller's company, when it is a client user (only they manage client users).
fn client_company(principal: &Principal) -> AppResult<&str> {
    match (principal.kind, principal.company_id.as_deref()) {
        (PrincipalKind::Client, Some(company)) => Ok(company),
        _ => Err(AppError::Forbidden {
            permission: Some(Permission::UsersManage.as_str()),
        }),
    }
}

/// A new single-use token for `user_id`, stored as its SHA-256 digest; returns the token.
async fn issue_token(
    db: &impl sea_orm::ConnectionTrait,
    tenant_id: &str,
    user_id: &str,
    purpose: PasswordTokenPurpose,
    valid_for: Duration,
) -> AppResult<String> {
    let token = tokens::new_token(TOKEN_PREFIX);
    let created = now();
    PasswordTokens::insert(entities::password_tokens::ActiveModel {
        id: Set(new_id()),
        tenant_id: Set(tenant_id.to_owned()),
        client_user_id: Set(user_id.to_owned()),
        purpose: Set(purpose),
        token_hash: Set(tokens::digest(&token)),
        created_at: Set(created),
        expires_at: Set(created + valid_for),
        used_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(token)
}

/// Invites a client user into the inviter's company: creates the user (without a password),
/// an invitation token valid 7 days and the invitation e-mail with its
/// `{PUBLIC_URL}/set-password?token=…` link, in one transaction with the audit entry.
/// `CONFLICT` when the e-mail already belongs to a user of the inviter's company (whom the
/// inviter lists anyway). An e-mail of another company's user gets the answer a new one
/// gets, so that an invitation does not reveal who uses Portal elsewhere: a user built from
/// the input with a fresh id, stored nowhere; nothing is written, sent or audited, and the
/// other company's user is left as it was (the refusal is logged).
pub async fn invite(
    ctx: &Domain,
    principal: &Principal,
    email: &str,
    name: &str,
    role: ClientUserRole,
) -> AppResult<ClientUser> {
    let company = client_company(principal)?.to_owned();
    let email = validate::email(Some(email), "email")?
        .ok_or_else(|| AppError::bad_input("email must not be empty"))?
        .to_lowercase();
    let name = validate::required(name, "name", validate::MAX_NAME)?;
    let conflict = || AppError::Conflict("A user with this e-mail address already exists".into());
    let at = now();
    let txn = crate::db::begin_write(&ctx.db).await?;
    let exists = ClientUsers::find()
        .select_only()
        .column(Column::CompanyId)
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .filter(Column::Email.eq(&email))
        .into_tuple::<String>()
        .one(&txn)
        .await?;
    let user = ClientUser {
        id: new_id(),
        tenant_id: principal.tenant_id.clone(),
        company_id: company,
        psa_contact_id: None,
        email,
        name,
        role,
        active: true,
        hub_sub: None,
        mission_member_id: None,
        password_hash: None,
        created_at: at,
        updated_at: at,
        last_login_at: None,
    };
    match exists {
        None => {}
        Some(owner) if owner == user.company_id => return Err(conflict()),
        Some(_) => {
            txn.rollback().await?;
            tracing::info!(
                tenant = %user.tenant_id,
                "invitation of another company's client user answered as new; nothing changed"
            );
            return Ok(user);
        }
    }
    match ClientUsers::insert(user.clone().into_active_model())
        .exec_without_returning(&txn)
        .await
    {
        Ok(_) => {}
        // A concurrent invitation or PSA push of the same e-mail won the race.
        Err(e) if crate::db::is_unique_violation(&e) => return Err(conflict()),
        Err(e) => return Err(e.into()),
    }
    let token = issue_token(
        &txn,
        &user.tenant_id,
        &user.id,
        PasswordTokenPurpose::Invite,
        Duration::days(INVITE_DAYS),
    )
    .await?;
    let link = format!("{}/set-password?token={token}", ctx.settings.public_url);
    outbox::mail(
        &txn,
        &user.tenant_id,
        "mail.invitation",
        &outbox::Mail {
            to: user.email.clone(),
            subject: "You are invited to the client portal".into(),
            text: format!(
                "Hello {},\n\nYou have been invited to the client portal. Choose your password \
                 here:\n\n{link}\n\nThe link works once and expires in {INVITE_DAYS} days.\n",
                user.name
            ),
        },
    )
    .await?;
    audit::record(
        &txn,
        &user.tenant_id,
        &principal.actor(),
        "client_user.invited",
        Some(&user.id),
        Some(format!("role {}", role.to_value())),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// The client users of the caller's company in its tenant, by name; more than
/// [`page::MAX_LIST`] is `BAD_USER_INPUT`.
pub async fn list(ctx: &Domain, principal: &Principal) -> AppResult<Vec<ClientUser>> {
    let company = client_company(principal)?;
    let rows = ClientUsers::find()
        .filter(Column::TenantId.eq(&principal.tenant_id))
        .filter(Column::CompanyId.eq(company))
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Email)
        .limit(page::MAX_LIST as u64 + 1)
        .all(&ctx.db)
        .await?;
    page::bounded(rows, "client users")
}

/// Answers a password-reset request: validates the input, then answers true at once and
/// does the rest in the background, so the answer and its timing are the same whether or not
/// `email` is an active client user of the tenant (CONTRACT section 4). The caller has taken
/// the rate-limit allowance already. Failures of the background work are logged, never shown.
pub async fn request_reset(ctx: &Domain, tenant_id: &str, email: &str) -> AppResult<bool> {
    let email = validate::email(Some(email), "email")?
        .ok_or_else(|| AppError::bad_input("email must not be empty"))?
        .to_lowercase();
    // An id that is not a UUID names no tenant; it is looked up like any other.
    let tenant_id = validate::id(tenant_id, "Tenant").unwrap_or_default();
    let ctx = ctx.clone();
    tokio::spawn(async move {
        if let Err(err) = send_reset(&ctx, &tenant_id, &email).await {
            tracing::warn!(
                code = err.code().as_str(),
                "password reset request not processed"
            );
        }
    });
    Ok(true)
}

/// Queues a password-reset e-mail (`{PUBLIC_URL}/reset-password?token=…`, valid 1 hour)
/// when `email` is an active client user of the tenant, in one transaction with its token and
/// audit entry. Past [`MAX_OPEN_RESETS`] open links for the user nothing more is sent; the
/// user's row is locked (PostgreSQL; SQLite's write transaction serialises anyway), so
/// concurrent requests cannot all pass the count.
async fn send_reset(ctx: &Domain, tenant_id: &str, email: &str) -> AppResult<()> {
    let txn = crate::db::begin_write(&ctx.db).await?;
    let user = ClientUsers::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::Email.eq(email))
        .filter(Column::Active.eq(true))
        .lock_exclusive()
        .one(&txn)
        .await?;
    let Some(user) = user else {
        tracing::info!("password reset for no active account");
        return Ok(());
    };
    let open_links = PasswordTokens::find()
        .filter(T::ClientUserId.eq(&user.id))
        .filter(T::Purpose.eq(PasswordTokenPurpose::Reset))
        .filter(T::UsedAt.is_null())
        .filter(T::ExpiresAt.gt(now()))
        .count(&txn)
        .await?;
    if open_links >= MAX_OPEN_RESETS {
        // Someone keeps asking for this address: its mailbox is not flooded.
        tracing::info!("password reset refused: too many open reset links");
        return Ok(());
    }
    let token = issue_token(
        &txn,
        &user.tenant_id,
        &user.id,
        PasswordTokenPurpose::Reset,
        Duration::hours(RESET_HOURS),
    )
    .await?;
    let link = format!("{}/reset-password?token={token}", ctx.settings.public_url);
    outbox::mail(
        &txn,
        &user.tenant_id,
        "mail.password_reset",
        &outbox::Mail {
            to: user.email.clone(),
            subject: "Reset your client portal password".into(),
            text: format!(
                "Hello {},\n\nSomeone asked to reset your client portal password. Choose a \
                 new one here:\n\n{link}\n\nThe link works once and expires in \
                 {RESET_HOURS} hour. If you did not ask for this, ignore this e-mail: your \
                 password stays as it is.\n",
                user.name
            ),
        },
    )
    .await?;
    audit::record(
        &txn,
        &user.tenant_id,
        // Anyone may ask; the link goes only to the user's address.
        "anonymous",
        "client_user.password_reset_requested",
        Some(&user.id),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Consumes an invitation or reset token and sets the user's password (argon2id). The token
/// is marked used by a conditional update, so of two concurrent uses only one succeeds; the
/// user's other outstanding tokens are spent too, and all their sessions are revoked.
/// A too short or too long password changes nothing.
pub async fn set_password(ctx: &Domain, token: &str, password: String) -> AppResult<bool> {
    passwords::validate_new(&password)?;
    let digest = tokens::digest(token.trim());
    let hash = passwords::hash(password).await?;
    let at = now();
    let txn = crate::db::begin_write(&ctx.db).await?;
    let consumed = PasswordTokens::update_many()
        .col_expr(T::UsedAt, Expr::value(at))
        .filter(T::TokenHash.eq(&digest))
        .filter(T::UsedAt.is_null())
        .filter(T::ExpiresAt.gt(at))
        .exec(&txn)
        .await?;
    let row = PasswordTokens::find()
        .filter(T::TokenHash.eq(&digest))
        .one(&txn)
        .await?;
    let row = match (consumed.rows_affected, row) {
        (1, Some(row)) => row,
        (_, None) => return Err(AppError::bad_input("This link is not valid")),
        (_, Some(row)) if row.used_at.is_some() => {
            return Err(AppError::bad_input(
                "This link has already been used; ask for a new one",
            ));
        }
        (_, Some(_)) => {
            return Err(AppError::bad_input(
                "This link has expired; ask for a new one",
            ));
        }
    };
    let Some(user) = ClientUsers::find_by_id(row.client_user_id.clone())
        .filter(Column::TenantId.eq(&row.tenant_id))
        .filter(Column::Active.eq(true))
        .one(&txn)
        .await?
    else {
        // The user was deactivated since the link was sent; dropping the transaction keeps
        // the token unused.
        return Err(AppError::bad_input("This link is no longer valid"));
    };
    let user_id = user.id.clone();
    let mut model = user.into_active_model();
    model.password_hash = Set(Some(hash));
    model.updated_at = Set(at);
    model.update(&txn).await?;
    // A password is set: older links in the user's mailbox must not set another one.
    PasswordTokens::update_many()
        .col_expr(T::UsedAt, Expr::value(at))
        .filter(T::ClientUserId.eq(&user_id))
        .filter(T::UsedAt.is_null())
        .exec(&txn)
        .await?;
    let revoked = client_users::revoke_sessions(&txn, &row.tenant_id, &user_id).await?;
    audit::record(
        &txn,
        &row.tenant_id,
        &format!("client:{user_id}"),
        "client_user.password_set",
        Some(&user_id),
        Some(format!("by {} link", row.purpose.to_value())),
    )
    .await?;
    txn.commit().await?;
    for session in revoked {
        ctx.hub.publish_revocation(&session);
    }
    Ok(true)
}
