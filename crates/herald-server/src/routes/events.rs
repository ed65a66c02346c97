//! `/events`: the events log (read-only), under `notifications.logs.read`. Every event
//! received, with its `source`, `status` (`RECEIVED`, `PROCESSED`, `ERROR`) and `errors`;
//! filter with the CRUD parameters (`?status=ERROR`, `?name=…`, `_q`).

use herald_core::access::Permission;
use herald_core::resources::Collection;

crud_reads!(
    tag = "events",
    collection = Collection::Events,
    read = Permission::LogsRead,
    list = "/events",
    count = "/events/count",
    item = "/events/{id}"
);

pub(crate) fn router() -> OpenApiRouter<AppState> {
    reads()
}
