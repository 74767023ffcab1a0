//! Field errors on nullable fields resolve to `null` (GraphQL spec, "Handling Field Errors";
//! CONTRACT section 2: a field the caller may not see "resolves to `null`" and the rest of the
//! response is served).
//!
//! async-graphql 7 reports a failed field's error but leaves the field's key out of `data`
//! (and turns `data` into `null` when every root field failed), so clients that normalise
//! responses (Apollo, Relay) see missing fields instead of `null`. This extension catches the
//! error of every nullable field, answers `null` in its place, and adds the error (which
//! already carries its path) to the response when the operation (or subscription event)
//! finishes. Errors of non-null fields pass through unchanged.

use std::sync::{Arc, Mutex};

use async_graphql::{
    Response, ServerError, ServerResult, Value,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, ResolveInfo,
    },
};

/// The extension factory; one extension per request (or subscription).
pub struct NullOnFieldError;

impl ExtensionFactory for NullOnFieldError {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NullOnFieldErrorExtension::default())
    }
}

#[derive(Default)]
struct NullOnFieldErrorExtension {
    /// Errors of fields answered with `null`, until the response is built.
    errors: Mutex<Vec<ServerError>>,
}

impl NullOnFieldErrorExtension {
    fn take(&self) -> Vec<ServerError> {
        self.errors
            .lock()
            .map(|mut errors| std::mem::take(&mut *errors))
            .unwrap_or_default()
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for NullOnFieldErrorExtension {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        response.errors.extend(self.take());
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let nullable = !info.return_type.ends_with('!');
        match next.run(ctx, info).await {
            Err(error) if nullable => {
                if let Ok(mut errors) = self.errors.lock() {
                    errors.push(error);
                    Ok(Some(Value::Null))
                } else {
                    Err(error)
                }
            }
            other => other,
        }
    }
}
