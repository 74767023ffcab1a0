//! Live check-ins and check-outs. Each event's visit is loaded once by the service and
//! shared by every subscriber; each subscriber's field guards still apply.

use async_graphql::{Context, ID, Result, Subscription};
use futures_util::{Stream, StreamExt, future, stream};
use tokio::sync::broadcast::error::RecvError;

use super::types::Visit;
use crate::{
    auth::Permission,
    events::VisitEventKind,
    graphql::context::state,
    graphql::guard::{Need, principal},
};

/// Visitor subscription fields.
#[derive(Default)]
pub struct VisitorSubscription;

fn visits(
    ctx: &Context<'_>,
    kind: VisitEventKind,
    location_id: Option<ID>,
) -> Result<impl Stream<Item = Visit> + use<>> {
    let p = principal(ctx)?;
    // The tenant's own channel: this stream never wakes for another tenant's events.
    let receiver = state(ctx)?.hub.subscribe_visits(&p.tenant_id);
    // Checked again per event, in case a hub implementation ever mixes tenants up.
    let tenant = p.tenant_id.clone();
    let location = location_id.map(|l| l.0);
    let events = stream::unfold(receiver, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(event) => return Some((event, rx)),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "subscriber lagged; events dropped");
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    // The filter yields the shared bundle and only `map` builds the `Visit`: a pending
    // `filter_map` output is stored in the stream, and an idle subscription should not carry
    // room for a whole visit row.
    Ok(events
        .filter_map(move |event| {
            let bundle = (event.kind == kind
                && event.tenant_id == tenant
                && location.as_ref().is_none_or(|l| *l == event.location_id))
            .then(|| event.bundle.clone());
            future::ready(bundle)
        })
        .map(Visit::from_bundle))
}

#[Subscription]
impl VisitorSubscription {
    /// Every check-in of the tenant, or of one location.
    #[graphql(guard = "Need::Perm(Permission::VisitorsView)")]
    async fn visitor_checked_in(
        &self,
        ctx: &Context<'_>,
        location_id: Option<ID>,
    ) -> Result<impl Stream<Item = Visit>> {
        visits(ctx, VisitEventKind::CheckedIn, location_id)
    }

    /// Every check-out of the tenant, or of one location.
    #[graphql(guard = "Need::Perm(Permission::VisitorsView)")]
    async fn visitor_checked_out(
        &self,
        ctx: &Context<'_>,
        location_id: Option<ID>,
    ) -> Result<impl Stream<Item = Visit>> {
        visits(ctx, VisitEventKind::CheckedOut, location_id)
    }
}
