//! `/event-settings`: seed 03's event settings (CRUD), under `notifications.settings.*`. One
//! setting per event name: a second one is a 409.

use herald_core::access::Permission;
use herald_core::resources::Collection;
use herald_core::resources::event_setting::EventSetting;

crud_resource!(
    tag = "event-settings",
    collection = Collection::EventSettings,
    schema = EventSetting,
    read = Permission::SettingsRead,
    write = Permission::SettingsWrite,
    list = "/event-settings",
    count = "/event-settings/count",
    item = "/event-settings/{id}"
);

pub(crate) fn router() -> OpenApiRouter<AppState> {
    crud()
}
