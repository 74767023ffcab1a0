//! sea-orm entities for the onegraph database schema.
//!
//! One module per table, in classic `DeriveEntityModel` style. Every id is a
//! UUID string stored as TEXT; JSON-ish values are TEXT as well and are validated
//! by the application. Status and kind columns with a fixed set of values are
//! `DeriveActiveEnum` types, still stored as TEXT in their lower-case form: the
//! enum of a table lives in its module, one shared by several tables in [`enums`].

pub mod acknowledgements;
pub mod audit_log;
pub mod badges;
pub mod billing_reports;
pub mod client_users;
pub mod enums;
pub mod hosts;
pub mod inbound_events;
pub mod integration_keys;
pub mod invoices;
pub mod job_leases;
pub mod kiosk_pairing_codes;
pub mod kiosks;
pub mod locations;
pub mod outbox;
pub mod password_tokens;
pub mod pre_registrations;
pub mod sessions;
pub mod signing_requests;
pub mod sync_cursors;
pub mod sync_runs;
pub mod tenants;
pub mod ticket_comments;
pub mod tickets;
pub mod used_token_ids;
pub mod users;
pub mod visitor_settings;
pub mod visitors;
pub mod visits;

/// Re-exports of every entity under a singular, table-like name.
pub mod prelude {
    pub use super::acknowledgements::Entity as Acknowledgement;
    pub use super::audit_log::Entity as AuditLog;
    pub use super::badges::Entity as Badge;
    pub use super::billing_reports::Entity as BillingReport;
    pub use super::client_users::Entity as ClientUser;
    pub use super::hosts::Entity as Host;
    pub use super::inbound_events::Entity as InboundEvent;
    pub use super::integration_keys::Entity as IntegrationKey;
    pub use super::invoices::Entity as Invoice;
    pub use super::job_leases::Entity as JobLease;
    pub use super::kiosk_pairing_codes::Entity as KioskPairingCode;
    pub use super::kiosks::Entity as Kiosk;
    pub use super::locations::Entity as Location;
    pub use super::outbox::Entity as Outbox;
    pub use super::password_tokens::Entity as PasswordToken;
    pub use super::pre_registrations::Entity as PreRegistration;
    pub use super::sessions::Entity as Session;
    pub use super::signing_requests::Entity as SigningRequest;
    pub use super::sync_cursors::Entity as SyncCursor;
    pub use super::sync_runs::Entity as SyncRun;
    pub use super::tenants::Entity as Tenant;
    pub use super::ticket_comments::Entity as TicketComment;
    pub use super::tickets::Entity as Ticket;
    pub use super::used_token_ids::Entity as UsedTokenId;
    pub use super::users::Entity as User;
    pub use super::visitor_settings::Entity as VisitorSettings;
    pub use super::visitors::Entity as Visitor;
    pub use super::visits::Entity as Visit;
}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum, Iterable};
    use serde::{Serialize, de::DeserializeOwned};

    /// Every variant's stored text reads back as that variant, and serde (the models'
    /// JSON form) uses the same text.
    fn stored_forms<E>(expected: &[&str])
    where
        E: ActiveEnum<Value = String> + Iterable + Serialize + DeserializeOwned + PartialEq,
        E: std::fmt::Debug,
    {
        let stored: Vec<String> = E::iter().map(|v| v.to_value()).collect();
        assert_eq!(stored, expected);
        for variant in E::iter() {
            let text = variant.to_value();
            assert_eq!(E::try_from_value(&text).ok().as_ref(), Some(&variant));
            let json = serde_json::to_value(&variant).ok();
            assert_eq!(json, Some(serde_json::Value::String(text.clone())));
            let back: Option<E> = serde_json::from_value(serde_json::Value::String(text)).ok();
            assert_eq!(back.as_ref(), Some(&variant));
        }
        assert!(E::try_from_value(&"unknown".to_owned()).is_err());
    }

    #[test]
    fn enumerated_columns_keep_their_stored_text() {
        stored_forms::<super::visits::VisitStatus>(&["checked_in", "checked_out"]);
        stored_forms::<super::visits::CheckInSource>(&["staff", "kiosk"]);
        stored_forms::<super::badges::BadgeStatus>(&["available", "assigned", "retired"]);
        stored_forms::<super::locations::LocationType>(&[
            "office",
            "warehouse",
            "school",
            "church",
            "campus",
            "site",
            "other",
        ]);
        stored_forms::<super::pre_registrations::StoredPreRegistrationStatus>(&[
            "expected",
            "checked_in",
            "cancelled",
        ]);
        stored_forms::<super::signing_requests::StoredSigningStatus>(&[
            "pending", "signed", "expired",
        ]);
        stored_forms::<super::invoices::InvoiceStatus>(&["open", "paid", "overdue", "void"]);
        stored_forms::<super::tickets::TicketStatus>(&[
            "new",
            "open",
            "in_progress",
            "waiting_on_client",
            "resolved",
            "closed",
        ]);
        stored_forms::<super::tickets::TicketPriority>(&["low", "normal", "high", "urgent"]);
        stored_forms::<super::enums::TicketSyncState>(&["pending", "synced", "failed"]);
        stored_forms::<super::outbox::OutboxKind>(&["bus", "mail", "legal_webhook"]);
        stored_forms::<super::client_users::ClientUserRole>(&["client_admin", "client_user"]);
        stored_forms::<super::password_tokens::PasswordTokenPurpose>(&["invite", "reset"]);
    }
}

/// The text a status or kind enum is stored as (what CSV exports and events show).
pub fn stored_text<E: sea_orm::ActiveEnum<Value = String>>(value: &E) -> String {
    value.to_value()
}
