//! Signing: policies Legal pushes for signature (`POST /internal/signing/push`) become one
//! signing request per active client user of the named companies; a client user signs their
//! own, which records an acknowledgement and queues Legal's `signing.completed` webhook
//! (CONTRACT section 6).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr, sea_query::OnConflict,
};
use serde_json::json;

use crate::services::{
    new_id, now, portal::client_users, shared::audit, shared::outbox, shared::validate,
};
use crate::{
    auth::{Principal, PrincipalKind},
    domain::Domain,
    error::{AppError, AppResult},
};
use entities::{
    acknowledgements::{self, Entity as Acknowledgements},
    client_users::{Column as U, Entity as ClientUsers},
    signing_requests::{self, Column, Entity as SigningRequests, StoredSigningStatus as Stored},
};

/// Longest policy title accepted.
pub const MAX_TITLE: usize = 500;
/// Longest document URL accepted.
pub const MAX_URL: usize = 2000;
/// Most companies one push may name.
pub const MAX_COMPANIES: usize = 1000;
/// Most signing requests `signingRequests` lists before asking to narrow the query.
pub const MAX_LIST: u64 = 500;
/// Longest user agent kept on an acknowledgement.
const MAX_USER_AGENT: usize = 500;

/// Where a signing request stands. A pending request past its `dueAt` reads as `EXPIRED`
/// and can no longer be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningStatus {
    /// Waiting for the signature.
    Pending,
    /// Signed: the acknowledgement is recorded.
    Signed,
    /// Past its due date unsigned; it cannot be signed any more.
    Expired,
}

impl SigningStatus {
    /// The status a request shows at `at`.
    pub fn of(request: &signing_requests::Model, at: DateTime<Utc>) -> Self {
        match request.status {
            Stored::Signed => SigningStatus::Signed,
            Stored::Expired => SigningStatus::Expired,
            Stored::Pending if request.due_at.is_some_and(|due| due < at) => SigningStatus::Expired,
            Stored::Pending => SigningStatus::Pending,
        }
    }

    /// The SQL condition selecting requests that show this status at `at`.
    fn condition(self, at: DateTime<Utc>) -> Condition {
        match self {
            SigningStatus::Signed => Condition::all().add(Column::Status.eq(Stored::Signed)),
            SigningStatus::Expired => Condition::any()
                .add(Column::Status.eq(Stored::Expired))
                .add(
                    Condition::all()
                        .add(Column::Status.eq(Stored::Pending))
                        .add(Column::DueAt.lt(at)),
                ),
            SigningStatus::Pending => Condition::all()
                .add(Column::Status.eq(Stored::Pending))
                .add(
                    Condition::any()
                        .add(Column::DueAt.is_null())
                        .add(Column::DueAt.gte(at)),
                ),
        }
    }
}

/// Legal's push, as received (the HTTP layer has checked the JSON shape).
#[derive(Debug, Clone)]
pub struct SigningPush {
    /// The tenant (UUID).
    pub tenant_id: String,
    /// Legal's policy id.
    pub policy_id: String,
    /// The policy version (at least 1).
    pub version: i64,
    /// The document's title.
    pub title: String,
    /// Where the document is read (http or https).
    pub document_url: String,
    /// SHA-256 of the document, 64 hex characters.
    pub content_sha256: String,
    /// PSA company ids whose active client users must sign.
    pub company_ids: Vec<String>,
    /// When signatures are due, if ever.
    pub due_at: Option<DateTime<Utc>>,
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PushOutcome {
    /// New signing requests (each with its notification mail queued).
    pub created: usize,
    /// Signers who already had this policy version (a replay creates nothing).
    pub existing: usize,
}

/// Validates a push field by field; messages name the field.
pub fn validate_push(push: SigningPush) -> AppResult<SigningPush> {
    let tenant_id = validate::id(&push.tenant_id, "tenant")
        .map_err(|_| AppError::bad_input("tenant_id must be a UUID"))?;
    let policy_id = validate::required(&push.policy_id, "policy_id", validate::MAX_NAME)?;
    if !(1..=i64::from(i32::MAX)).contains(&push.version) {
        return Err(AppError::bad_input("version must be a positive integer"));
    }
    let title = validate::required(&push.title, "title", MAX_TITLE)?;
    if title.contains(['\n', '\t']) {
        return Err(AppError::bad_input("title must be one line"));
    }
    let document_url = push.document_url.trim().to_owned();
    let lower = document_url.to_ascii_lowercase();
    let scheme_ok = ["http://", "https://"]
        .iter()
        .any(|s| lower.starts_with(s) && lower.len() > s.len());
    if !scheme_ok
        || document_url.chars().count() > MAX_URL
        || document_url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(AppError::bad_input(format!(
            "document_url must be an http:// or https:// URL of at most {MAX_URL} characters"
        )));
    }
    let content_sha256 = push.content_sha256.trim().to_ascii_lowercase();
    if content_sha256.len() != 64 || !content_sha256.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(AppError::bad_input(
            "content_sha256 must be 64 hexadecimal characters",
        ));
    }
    if push.company_ids.is_empty() {
        return Err(AppError::bad_input("company_ids must not be empty"));
    }
    if push.company_ids.len() > MAX_COMPANIES {
        return Err(AppError::bad_input(format!(
            "company_ids must list at most {MAX_COMPANIES} companies"
        )));
    }
    let company_ids = push
        .company_ids
        .iter()
        .map(|c| validate::required(c, "company_ids[]", validate::MAX_NAME))
        .collect::<AppResult<BTreeSet<_>>>()?
        .into_iter()
        .collect();
    Ok(SigningPush {
        tenant_id,
        policy_id,
        version: push.version,
        title,
        document_url,
        content_sha256,
        company_ids,
        due_at: push.due_at,
    })
}

/// Applies Legal's push: one signing request per active client user of the listed
/// companies in the tenant, each with its notification mail, in one transaction with an
/// audit entry. Idempotent on (tenant, policy, version, user): a replay creates nothing
/// and sends nothing; the same version pushed again with a different document hash is
/// `CONFLICT` (a version's content never changes under its signers).
pub async fn push(ctx: &Domain, push: SigningPush) -> AppResult<PushOutcome> {
    let push = validate_push(push)?;
    let version = i32::try_from(push.version)
        .map_err(|_| AppError::bad_input("version must be a positive integer"))?;
    let txn = crate::db::begin_write(&ctx.db).await?;
    client_users::ensure_tenant(&txn, &push.tenant_id).await?;
    let pushed_before: Option<String> = SigningRequests::find()
        .select_only()
        .column(Column::ContentSha256)
        .filter(Column::TenantId.eq(&push.tenant_id))
        .filter(Column::PolicyId.eq(&push.policy_id))
        .filter(Column::Version.eq(version))
        .into_tuple()
        .one(&txn)
        .await?;
    if pushed_before
        .as_deref()
        .is_some_and(|sha| sha != push.content_sha256)
    {
        return Err(AppError::Conflict(
            "This policy version was already pushed with a different content_sha256".into(),
        ));
    }
    let signers = ClientUsers::find()
        .filter(U::TenantId.eq(&push.tenant_id))
        .filter(U::CompanyId.is_in(push.company_ids.clone()))
        .filter(U::Active.eq(true))
        .order_by_asc(U::Id)
        .all(&txn)
        .await?;
    let mut outcome = PushOutcome::default();
    let at = now();
    for signer in &signers {
        let id = new_id();
        let inserted = SigningRequests::insert(signing_requests::ActiveModel {
            id: Set(id.clone()),
            tenant_id: Set(push.tenant_id.clone()),
            company_id: Set(signer.company_id.clone()),
            client_user_id: Set(signer.id.clone()),
            policy_id: Set(push.policy_id.clone()),
            version: Set(version),
            title: Set(push.title.clone()),
            document_url: Set(push.document_url.clone()),
            content_sha256: Set(push.content_sha256.clone()),
            due_at: Set(push.due_at),
            status: Set(Stored::Pending),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .on_conflict(
            OnConflict::columns([
                Column::TenantId,
                Column::PolicyId,
                Column::Version,
                Column::ClientUserId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if inserted == 0 {
            outcome.existing += 1;
            continue;
        }
        outcome.created += 1;
        outbox::mail(
            &txn,
            &push.tenant_id,
            "mail.signing_request",
            &notification(&ctx.settings.public_url, signer, &push),
        )
        .await?;
    }
    audit::record(
        &txn,
        &push.tenant_id,
        "integration:legal",
        "signing.pushed",
        Some(&format!("{} v{}", push.policy_id, version)),
        Some(format!(
            "{} signing requests created, {} already requested",
            outcome.created, outcome.existing
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(outcome)
}

/// The notification a new signer gets; the link is built from `PUBLIC_URL`.
fn notification(
    public_url: &str,
    signer: &entities::client_users::Model,
    push: &SigningPush,
) -> outbox::Mail {
    let due = push
        .due_at
        .map(|d| format!(" by {}", d.format("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_default();
    outbox::Mail {
        to: signer.email.clone(),
        subject: format!("Please sign: {}", push.title),
        text: format!(
            "Hello {name},\n\n\
             you are asked to read and sign \"{title}\" (version {version}){due}.\n\n\
             Read the document: {url}\n\
             Sign it in the Portal: {public_url}/signing\n",
            name = signer.name,
            title = push.title,
            version = push.version,
            url = push.document_url,
        ),
    }
}

/// The caller's client identity (tenant, company, user), or `None` for any other principal
/// (which has no signing requests).
fn signer(principal: &Principal) -> Option<(&str, &str, &str)> {
    if principal.kind != PrincipalKind::Client {
        return None;
    }
    Some((
        principal.tenant_id.as_str(),
        principal.company_id.as_deref()?,
        principal.user_id.as_deref()?,
    ))
}

/// A signing request with its acknowledgement, if signed.
pub type RequestWithAck = (signing_requests::Model, Option<acknowledgements::Model>);

/// The caller's own signing requests (tenant, company and user), newest first, optionally
/// those showing `status`; with their acknowledgements (two statements in all). More than
/// [`MAX_LIST`] is `BAD_USER_INPUT`.
pub async fn list(
    db: &impl ConnectionTrait,
    principal: &Principal,
    status: Option<SigningStatus>,
) -> AppResult<Vec<RequestWithAck>> {
    let Some((tenant, company, user)) = signer(principal) else {
        return Ok(Vec::new());
    };
    let mut cond = Condition::all()
        .add(Column::TenantId.eq(tenant))
        .add(Column::CompanyId.eq(company))
        .add(Column::ClientUserId.eq(user));
    if let Some(status) = status {
        cond = cond.add(status.condition(now()));
    }
    let requests = SigningRequests::find()
        .filter(cond)
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .limit(MAX_LIST + 1)
        .all(db)
        .await?;
    if requests.len() as u64 > MAX_LIST {
        return Err(AppError::bad_input(format!(
            "more than {MAX_LIST} signing requests; narrow the query with status"
        )));
    }
    let signed: Vec<String> = requests
        .iter()
        .filter(|r| r.status == Stored::Signed)
        .map(|r| r.id.clone())
        .collect();
    let mut acks: HashMap<String, acknowledgements::Model> = if signed.is_empty() {
        HashMap::new()
    } else {
        Acknowledgements::find()
            .filter(acknowledgements::Column::TenantId.eq(tenant))
            .filter(acknowledgements::Column::SigningRequestId.is_in(signed))
            .all(db)
            .await?
            .into_iter()
            .map(|a| (a.signing_request_id.clone(), a))
            .collect()
    };
    Ok(requests
        .into_iter()
        .map(|r| {
            let ack = acks.remove(&r.id);
            (r, ack)
        })
        .collect())
}

/// Where a signature comes from, for the acknowledgement.
#[derive(Debug, Clone, Default)]
pub struct SignatureOrigin {
    /// The client's address.
    pub ip: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
}

/// Signs the caller's own pending request: records the acknowledgement (who, when, from
/// where, the document's hash), marks the request signed and queues Legal's
/// `signing.completed` webhook, in one transaction with an audit entry. A request of
/// another user, company or tenant is `NOT_FOUND`; one already signed, or expired (past
/// its due date), is `CONFLICT`.
pub async fn sign(
    ctx: &Domain,
    principal: &Principal,
    request_id: &str,
    signature_name: &str,
    origin: SignatureOrigin,
) -> AppResult<acknowledgements::Model> {
    const WHAT: &str = "Signing request";
    let request_id = validate::id(request_id, WHAT)?;
    let signature_name = validate::required(signature_name, "signatureName", validate::MAX_NAME)?;
    let Some((tenant, company, user_id)) = signer(principal) else {
        return Err(AppError::NotFound(WHAT));
    };
    let txn = crate::db::begin_write(&ctx.db).await?;
    let request = SigningRequests::find_by_id(request_id.clone())
        .filter(Column::TenantId.eq(tenant))
        .filter(Column::CompanyId.eq(company))
        .filter(Column::ClientUserId.eq(user_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound(WHAT))?;
    let at = now();
    match SigningStatus::of(&request, at) {
        SigningStatus::Pending => {}
        SigningStatus::Signed => {
            return Err(AppError::Conflict("This document is already signed".into()));
        }
        SigningStatus::Expired => {
            return Err(AppError::Conflict(
                "This signing request has expired and can no longer be signed".into(),
            ));
        }
    }
    // Conditional, so that of two concurrent signatures exactly one wins.
    let marked = SigningRequests::update_many()
        .col_expr(Column::Status, Expr::value(Stored::Signed))
        .col_expr(Column::UpdatedAt, Expr::value(at))
        .filter(Column::Id.eq(&request.id))
        .filter(Column::Status.eq(Stored::Pending))
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        return Err(AppError::Conflict("This document is already signed".into()));
    }
    let signer = ClientUsers::find_by_id(user_id.to_owned())
        .filter(U::TenantId.eq(tenant))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound(WHAT))?;
    let ack = acknowledgements::Model {
        id: new_id(),
        tenant_id: tenant.to_owned(),
        signing_request_id: request.id.clone(),
        client_user_id: user_id.to_owned(),
        signature_name,
        signed_at: at,
        ip_address: origin.ip,
        user_agent: origin
            .user_agent
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
        content_sha256: request.content_sha256.clone(),
    };
    let inserted = Acknowledgements::insert(acknowledgements::ActiveModel::from(ack.clone()))
        .exec_without_returning(&txn)
        .await;
    match inserted {
        Ok(_) => {}
        Err(err) if crate::db::is_unique_violation(&err) => {
            return Err(AppError::Conflict("This document is already signed".into()));
        }
        Err(err) => return Err(err.into()),
    }
    outbox::legal_webhook(
        &txn,
        tenant,
        &json!({
            "event": "signing.completed",
            "tenant_id": tenant,
            "policy_id": request.policy_id,
            "version": request.version,
            "acknowledgement_id": ack.id,
            "signer": {"id": signer.id, "email": signer.email, "name": signer.name},
            "signed_at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }),
    )
    .await?;
    audit::record(
        &txn,
        tenant,
        &principal.actor(),
        "signing.signed",
        Some(&request.id),
        Some(format!(
            "{} v{} acknowledgement {}",
            request.policy_id, request.version, ack.id
        )),
    )
    .await?;
    txn.commit().await?;
    Ok(ack)
}
