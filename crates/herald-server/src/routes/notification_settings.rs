//! `/notification-settings`: seed 03's notification settings (CRUD), under
//! `notifications.settings.*`.

use herald_core::access::Permission;
use herald_core::resources::Collection;
use herald_core::resources::notification_setting::NotificationSetting;

crud_resource!(
    tag = "notification-settings",
    collection = Collection::NotificationSettings,
    schema = NotificationSetting,
    read = Permission::SettingsRead,
    write = Permission::SettingsWrite,
    list = "/notification-settings",
    count = "/notification-settings/count",
    item = "/notification-settings/{id}"
);

pub(crate) fn router() -> OpenApiRouter<AppState> {
    crud()
}
