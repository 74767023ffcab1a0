//! Visitor: locations, hosts, visitors and visits, badges, pre-registrations, kiosks, the
//! tenant's settings, the visit report, global search, and the housekeeping jobs' rules
//! (auto-checkout, retention).

pub mod badges;
pub mod batch;
pub mod billing;
pub mod hosts;
pub mod housekeeping;
pub mod integration;
pub mod kiosks;
pub mod locations;
pub mod pre_registrations;
pub mod report;
pub mod search;
pub mod settings;
pub mod visits;
