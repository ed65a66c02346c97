//! `/notifications`: seed 03's notification records (read-only), under
//! `notifications.logs.read`: per event and recipient, the messages, reminders and failures.
//! `?event._id=<id>` finds those of one event.

use herald_core::access::Permission;
use herald_core::resources::Collection;

crud_reads!(
    tag = "notifications",
    collection = Collection::Notifications,
    read = Permission::LogsRead,
    list = "/notifications",
    count = "/notifications/count",
    item = "/notifications/{id}"
);

pub(crate) fn router() -> OpenApiRouter<AppState> {
    reads()
}
