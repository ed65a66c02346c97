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

/// Renders the template for the given `data`, `user` and `locale` without sending anything:
/// one entry per channel it has content for, or the error that message would fail with.
#[utoipa::path(post, path = "/templates/{id}/preview", tag = "templates", params(("id" = String, Path)), request_body = Object, security(("apiKey" = [])), responses(
    (status = 200, description = "The rendered messages", body = Object),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn preview(
    State(state): State<AppState>,
    caller: ServiceCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    crate::auth::require(&caller, Permission::TemplatesRead)?;
    Ok(Json(state.previews().preview(&caller.tenant, &id, &body).await?))
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    crud().routes(routes!(preview))
}
