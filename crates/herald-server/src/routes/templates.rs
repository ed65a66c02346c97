//! `/templates`: message templates (CRUD), under `notifications.templates.*`.

use herald_core::access::Permission;
use herald_core::resources::Collection;
use herald_core::resources::template::Template;

crud_resource!(
    tag = "templates",
    collection = Collection::Templates,
    schema = Template,
    read = Permission::TemplatesRead,
    write = Permission::TemplatesWrite,
    list = "/templates",
    count = "/templates/count",
    item = "/templates/{id}"
);

pub(crate) fn router() -> OpenApiRouter<AppState> {
    crud()
}
