//! Visitor input objects, each converted into the service's input with `From`.

use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};

use crate::{
    graphql::enums::{LocationType, VisitStatus},
    services,
};

/// Filters of the visit log.
#[derive(InputObject, Default, Clone)]
pub struct VisitFilter {
    location_id: Option<ID>,
    host_id: Option<ID>,
    status: Option<VisitStatus>,
    /// Checked in at or after.
    from: Option<DateTime<Utc>>,
    /// Checked in before.
    to: Option<DateTime<Utc>>,
    /// Matches the visitor's name, e-mail or company.
    search: Option<String>,
}

impl From<VisitFilter> for services::visitor::visits::VisitFilter {
    fn from(f: VisitFilter) -> Self {
        services::visitor::visits::VisitFilter {
            location_id: f.location_id.map(|i| i.0),
            host_id: f.host_id.map(|i| i.0),
            status: f.status.map(Into::into),
            from: f.from,
            to: f.to,
            search: f.search,
        }
    }
}

/// Who is arriving.
#[derive(InputObject, Clone)]
pub struct VisitorInput {
    name: String,
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
}

impl From<VisitorInput> for services::visitor::visits::VisitorDetails {
    fn from(v: VisitorInput) -> Self {
        services::visitor::visits::VisitorDetails {
            name: v.name,
            email: v.email,
            phone: v.phone,
            company: v.company,
        }
    }
}

/// A check-in; `visitor` may be omitted when `preRegistrationCode` is given.
#[derive(InputObject)]
pub struct CheckInInput {
    location_id: ID,
    host_id: Option<ID>,
    visitor: Option<VisitorInput>,
    badge_id: Option<ID>,
    pre_registration_code: Option<String>,
    purpose: Option<String>,
}

impl From<CheckInInput> for services::visitor::visits::CheckIn {
    fn from(input: CheckInInput) -> Self {
        services::visitor::visits::CheckIn {
            location_id: input.location_id.0,
            host_id: input.host_id.map(|i| i.0),
            visitor: input.visitor.map(Into::into),
            badge_id: input.badge_id.map(|i| i.0),
            pre_registration_code: input.pre_registration_code,
            purpose: input.purpose,
        }
    }
}

/// An expected visit.
#[derive(InputObject)]
pub struct PreRegisterInput {
    location_id: ID,
    host_id: Option<ID>,
    visitor: VisitorInput,
    expected_at: DateTime<Utc>,
}

impl From<PreRegisterInput> for services::visitor::pre_registrations::NewPreRegistration {
    fn from(input: PreRegisterInput) -> Self {
        services::visitor::pre_registrations::NewPreRegistration {
            location_id: input.location_id.0,
            host_id: input.host_id.map(|i| i.0),
            visitor: input.visitor.into(),
            expected_at: input.expected_at,
        }
    }
}

/// A new location.
#[derive(InputObject)]
pub struct CreateLocationInput {
    name: String,
    address: Option<String>,
    #[graphql(name = "type", default_with = "LocationType::Office")]
    location_type: LocationType,
    /// IANA time zone name.
    #[graphql(default_with = "String::from(\"UTC\")")]
    timezone: String,
}

impl From<CreateLocationInput> for services::visitor::locations::NewLocation {
    fn from(input: CreateLocationInput) -> Self {
        services::visitor::locations::NewLocation {
            name: input.name,
            address: input.address,
            location_type: input.location_type.into(),
            timezone: input.timezone,
        }
    }
}

/// Changes to a location.
#[derive(InputObject)]
pub struct UpdateLocationInput {
    name: Option<String>,
    address: Option<String>,
    #[graphql(name = "type")]
    location_type: Option<LocationType>,
    timezone: Option<String>,
}

impl From<UpdateLocationInput> for services::visitor::locations::LocationChanges {
    fn from(input: UpdateLocationInput) -> Self {
        services::visitor::locations::LocationChanges {
            name: input.name,
            address: input.address,
            location_type: input.location_type.map(Into::into),
            timezone: input.timezone,
        }
    }
}

/// A new host.
#[derive(InputObject)]
pub struct CreateHostInput {
    name: String,
    email: Option<String>,
    phone: Option<String>,
    department: Option<String>,
    location_id: Option<ID>,
    #[graphql(default = true)]
    visible_in_directory: bool,
}

impl From<CreateHostInput> for services::visitor::hosts::NewHost {
    fn from(input: CreateHostInput) -> Self {
        services::visitor::hosts::NewHost {
            name: input.name,
            email: input.email,
            phone: input.phone,
            department: input.department,
            location_id: input.location_id.map(|i| i.0),
            visible_in_directory: input.visible_in_directory,
        }
    }
}

/// Changes to a host; blank text clears a field.
#[derive(InputObject)]
pub struct UpdateHostInput {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    department: Option<String>,
    location_id: Option<ID>,
    visible_in_directory: Option<bool>,
}

impl From<UpdateHostInput> for services::visitor::hosts::HostChanges {
    fn from(input: UpdateHostInput) -> Self {
        services::visitor::hosts::HostChanges {
            name: input.name,
            email: input.email,
            phone: input.phone,
            department: input.department,
            location_id: input.location_id.map(|i| i.0),
            visible_in_directory: input.visible_in_directory,
        }
    }
}

/// Changes to the Visitor settings.
#[derive(InputObject)]
pub struct VisitorSettingsInput {
    retention_days: Option<i32>,
    require_host: Option<bool>,
    require_badge: Option<bool>,
    /// `HH:MM`; blank turns auto-checkout off.
    auto_checkout_at: Option<String>,
}

impl From<VisitorSettingsInput> for services::visitor::settings::SettingsChanges {
    fn from(input: VisitorSettingsInput) -> Self {
        services::visitor::settings::SettingsChanges {
            retention_days: input.retention_days,
            require_host: input.require_host,
            require_badge: input.require_badge,
            auto_checkout_at: input.auto_checkout_at,
        }
    }
}
