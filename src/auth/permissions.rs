//! The permissions of CONTRACT section 2, as a small bit set checked by field guards.

use std::fmt;

macro_rules! permissions {
    ($($variant:ident = $name:literal,)*) => {
        /// One permission registered with Hub.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Permission { $(
            #[doc = $name]
            $variant,
        )* }

        impl Permission {
            /// Every permission, in bit order.
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            /// The permission's name, as Hub writes it.
            pub fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $name,)* }
            }

            /// The permission named `name`, if it is one onegraph knows.
            pub fn parse(name: &str) -> Option<Permission> {
                match name { $($name => Some(Permission::$variant),)* _ => None }
            }
        }
    };
}

permissions! {
    VisitorsView = "visitor.visitors.view",
    VisitorsCheckin = "visitor.visitors.checkin",
    VisitorsCheckout = "visitor.visitors.checkout",
    PreregisterManage = "visitor.preregister.manage",
    HostsView = "visitor.hosts.view",
    HostsManage = "visitor.hosts.manage",
    BadgesManage = "visitor.badges.manage",
    ReportsView = "visitor.reports.view",
    ReportsExport = "visitor.reports.export",
    LocationsManage = "visitor.locations.manage",
    AdminSettings = "visitor.admin.settings",
    AdminKiosk = "visitor.admin.kiosk",
    TicketsView = "portal.tickets.view",
    TicketsCreate = "portal.tickets.create",
    InvoicesView = "portal.invoices.view",
    SigningSign = "portal.signing.sign",
    MissionView = "portal.mission.view",
    MissionPrayerSubmit = "portal.mission.prayer.submit",
    UsersManage = "portal.users.manage",
}

impl Permission {
    /// Whether this is one of the `visitor.*` permissions.
    pub fn is_visitor(self) -> bool {
        self.as_str().starts_with("visitor.")
    }

    fn bit(self) -> u32 {
        1 << (self as u8)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of permissions.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct PermissionSet(u32);

impl PermissionSet {
    /// The empty set.
    pub const EMPTY: PermissionSet = PermissionSet(0);

    /// Whether `permission` is in the set.
    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    /// Adds `permission`.
    pub fn insert(&mut self, permission: Permission) {
        self.0 |= permission.bit();
    }

    /// Whether any `visitor.*` permission is in the set.
    pub fn any_visitor(self) -> bool {
        Permission::ALL
            .iter()
            .any(|p| p.is_visitor() && self.contains(*p))
    }

    /// Every `visitor.*` permission.
    pub fn all_visitor() -> Self {
        Permission::ALL
            .iter()
            .filter(|p| p.is_visitor())
            .copied()
            .collect()
    }

    /// The permissions in the set, in a stable order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |p| self.contains(*p))
    }

    /// The names of the permissions in the set.
    pub fn names(self) -> Vec<String> {
        self.iter().map(|p| p.as_str().to_owned()).collect()
    }

    /// Parses a list of names, keeping only known ones that `keep` accepts.
    pub fn from_names<'a>(
        names: impl IntoIterator<Item = &'a str>,
        keep: impl Fn(Permission) -> bool,
    ) -> Self {
        names
            .into_iter()
            .filter_map(Permission::parse)
            .filter(|p| keep(*p))
            .collect()
    }

    /// Serialises the set as a JSON array of names (how sessions store it).
    pub fn to_json(self) -> String {
        serde_json::Value::from(self.names()).to_string()
    }

    /// Parses a JSON array of names; anything else is the empty set.
    pub fn from_json(text: &str) -> Self {
        let names: Vec<String> = serde_json::from_str(text).unwrap_or_default();
        Self::from_names(names.iter().map(String::as_str), |_| true)
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut set = PermissionSet::EMPTY;
        for p in iter {
            set.insert(p);
        }
        set
    }
}

impl fmt::Debug for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Permission::as_str))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_visitor_permissions_round_trip() {
        let visitor = PermissionSet::all_visitor();
        assert_eq!(visitor.iter().count(), 12);
        assert_eq!(PermissionSet::from_json(&visitor.to_json()), visitor);
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(*p));
        }
    }

    #[test]
    fn unknown_and_filtered_names_are_dropped() {
        let set = PermissionSet::from_names(
            ["visitor.hosts.view", "portal.tickets.view", "visitor.nope"],
            Permission::is_visitor,
        );
        assert_eq!(set.names(), vec!["visitor.hosts.view".to_owned()]);
        assert_eq!(PermissionSet::from_json("not json"), PermissionSet::EMPTY);
    }
}
