//! Permissions and the roles that grant them.

use serde::{Deserialize, Serialize};

/// Something a caller may be allowed to do. The `notifications.*` names are seed 05's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// View notification and event settings (and, later, clinic settings).
    #[serde(rename = "notifications.settings.read")]
    SettingsRead,
    /// Change notification and event settings.
    #[serde(rename = "notifications.settings.write")]
    SettingsWrite,
    /// View templates.
    #[serde(rename = "notifications.templates.read")]
    TemplatesRead,
    /// Change templates.
    #[serde(rename = "notifications.templates.write")]
    TemplatesWrite,
    /// View recipients' preferences.
    #[serde(rename = "notifications.preferences.read")]
    PreferencesRead,
    /// Change recipients' preferences.
    #[serde(rename = "notifications.preferences.write")]
    PreferencesWrite,
    /// View the message log.
    #[serde(rename = "notifications.logs.read")]
    LogsRead,
    /// Send notifications by hand (`POST /send`).
    #[serde(rename = "notifications.send")]
    Send,
    /// Tell Herald that something happened (`POST /notification-events/`).
    #[serde(rename = "events.emit")]
    EventsEmit,
    /// View the recipients directory (`/users/`).
    #[serde(rename = "users.read")]
    UsersRead,
    /// Change the recipients directory, including bulk sync.
    #[serde(rename = "users.write")]
    UsersWrite,
    /// Report what happened to messages a service without webhooks carried
    /// (`POST /api/v1/delivery-reports`).
    #[serde(rename = "notifications.reports.write")]
    ReportsWrite,
    /// Everything, including keys and provider configuration.
    #[serde(rename = "admin")]
    Admin,
}

/// A named set of permissions given to an API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every permission.
    Admin,
    /// Clinic staff who configure notifications: settings, templates, preferences, logs,
    /// manual sends, and reading the recipients directory.
    Manager,
    /// A backend system: emits events, sends, syncs and reads recipients, reports deliveries.
    Integration,
    /// Read-only access to configuration, recipients and logs.
    Viewer,
}

impl Role {
    /// Every role, for help texts and validation messages.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Manager, Role::Integration, Role::Viewer];

    /// The role's name as written on the command line and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Integration => "integration",
            Role::Viewer => "viewer",
        }
    }

    /// Reads a role name.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|r| r.as_str() == text).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|r| r.as_str()).collect();
            format!("unknown role; expected one of {}", names.join(", "))
        })
    }

    /// Whether this role grants `permission`.
    pub fn grants(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Manager => matches!(
                permission,
                SettingsRead
                    | SettingsWrite
                    | TemplatesRead
                    | TemplatesWrite
                    | PreferencesRead
                    | PreferencesWrite
                    | LogsRead
                    | Send
                    | UsersRead
            ),
            Role::Integration => matches!(permission, EventsEmit | Send | UsersRead | UsersWrite | ReportsWrite),
            Role::Viewer => matches!(permission, SettingsRead | TemplatesRead | PreferencesRead | LogsRead | UsersRead),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_grants_everything_viewer_only_reads() {
        assert!(Role::Admin.grants(Permission::Admin));
        assert!(!Role::Manager.grants(Permission::Admin));
        assert!(Role::Viewer.grants(Permission::TemplatesRead));
        assert!(!Role::Viewer.grants(Permission::TemplatesWrite));
        assert!(Role::Integration.grants(Permission::EventsEmit));
        assert!(!Role::Integration.grants(Permission::SettingsWrite));
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()).unwrap(), role);
        }
        assert!(Role::parse("root").unwrap_err().contains("admin, manager"));
    }
}
