//! sea-orm entities for the onegraph database schema.
//!
//! One module per table, in classic `DeriveEntityModel` style. Every id is a
//! UUID string stored as TEXT; JSON-ish values and enumerated values are TEXT
//! as well and are validated by the application.

pub mod audit_log;
pub mod badges;
pub mod hosts;
pub mod kiosk_pairing_codes;
pub mod kiosks;
pub mod locations;
pub mod outbox;
pub mod pre_registrations;
pub mod sessions;
pub mod tenants;
pub mod used_token_ids;
pub mod users;
pub mod visitor_settings;
pub mod visitors;
pub mod visits;

/// Re-exports of every entity under a singular, table-like name.
pub mod prelude {
    pub use super::audit_log::Entity as AuditLog;
    pub use super::badges::Entity as Badge;
    pub use super::hosts::Entity as Host;
    pub use super::kiosk_pairing_codes::Entity as KioskPairingCode;
    pub use super::kiosks::Entity as Kiosk;
    pub use super::locations::Entity as Location;
    pub use super::outbox::Entity as Outbox;
    pub use super::pre_registrations::Entity as PreRegistration;
    pub use super::sessions::Entity as Session;
    pub use super::tenants::Entity as Tenant;
    pub use super::used_token_ids::Entity as UsedTokenId;
    pub use super::users::Entity as User;
    pub use super::visitor_settings::Entity as VisitorSettings;
    pub use super::visitors::Entity as Visitor;
    pub use super::visits::Entity as Visit;
}
