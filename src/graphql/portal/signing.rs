//! Portal GraphQL: signing. A client user lists and signs their own signing requests
//! (`portal.signing.sign`); the services confine both to the caller's tenant, company and
//! user.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::{
    auth::{Permission, RequestMeta},
    graphql::context::{ip, state},
    graphql::enums::SigningStatus,
    graphql::guard::{Need, principal},
    services::portal::signing,
};

/// A policy Legal asked the caller to sign.
pub struct SigningRequest {
    request: entities::signing_requests::Model,
    acknowledgement: Option<entities::acknowledgements::Model>,
    /// When the status was read, so that one response shows one consistent status.
    at: DateTime<Utc>,
}

impl From<signing::RequestWithAck> for SigningRequest {
    fn from((request, acknowledgement): signing::RequestWithAck) -> Self {
        Self {
            request,
            acknowledgement,
            at: Utc::now(),
        }
    }
}

#[Object]
impl SigningRequest {
    async fn id(&self) -> ID {
        ID(self.request.id.clone())
    }
    /// Legal's policy id.
    async fn policy_id(&self) -> &str {
        &self.request.policy_id
    }
    async fn version(&self) -> i32 {
        self.request.version
    }
    async fn title(&self) -> &str {
        &self.request.title
    }
    /// Where the document is read.
    async fn document_url(&self) -> &str {
        &self.request.document_url
    }
    /// When the signature is due; past it, an unsigned request is `EXPIRED`.
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.request.due_at
    }
    /// `EXPIRED` for a pending request past its `dueAt`: it can no longer be signed.
    async fn status(&self) -> SigningStatus {
        signing::SigningStatus::of(&self.request, self.at).into()
    }
    /// The signature, once signed.
    async fn acknowledgement(&self) -> Option<Acknowledgement> {
        self.acknowledgement.clone().map(Acknowledgement)
    }
}

/// A recorded signature.
pub struct Acknowledgement(pub entities::acknowledgements::Model);

impl From<entities::acknowledgements::Model> for Acknowledgement {
    fn from(model: entities::acknowledgements::Model) -> Self {
        Self(model)
    }
}

#[Object]
impl Acknowledgement {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn signed_at(&self) -> DateTime<Utc> {
        self.0.signed_at
    }
    /// The name the signer typed.
    async fn signature_name(&self) -> &str {
        &self.0.signature_name
    }
    /// SHA-256 (hex) of the document as signed.
    async fn content_sha256(&self) -> &str {
        &self.0.content_sha256
    }
}

/// Signing query fields.
#[derive(Default)]
pub struct SigningQuery;

#[Object]
impl SigningQuery {
    /// The caller's own signing requests, newest first (at most 500; narrow with
    /// `status`).
    #[graphql(guard = "Need::Perm(Permission::SigningSign)")]
    async fn signing_requests(
        &self,
        ctx: &Context<'_>,
        status: Option<SigningStatus>,
    ) -> Result<Option<Vec<SigningRequest>>> {
        let p = principal(ctx)?;
        let rows = signing::list(&state(ctx)?.db, &p, status.map(Into::into)).await?;
        Ok(Some(rows.into_iter().map(SigningRequest::from).collect()))
    }
}

/// Signing mutation fields.
#[derive(Default)]
pub struct SigningMutation;

#[Object]
impl SigningMutation {
    /// Signs one of the caller's pending requests. Signing again, or after the due date,
    /// is `CONFLICT`; another user's request is `NOT_FOUND`.
    #[graphql(guard = "Need::Perm(Permission::SigningSign)")]
    async fn sign_document(
        &self,
        ctx: &Context<'_>,
        signing_request_id: ID,
        signature_name: String,
    ) -> Result<Option<Acknowledgement>> {
        let p = principal(ctx)?;
        let origin = signing::SignatureOrigin {
            ip: ip(ctx).map(|ip| ip.to_string()),
            user_agent: ctx
                .data_opt::<RequestMeta>()
                .and_then(|m| m.user_agent.clone()),
        };
        let ack = signing::sign(
            state(ctx)?,
            &p,
            &signing_request_id,
            &signature_name,
            origin,
        )
        .await?;
        Ok(Some(ack.into()))
    }
}
