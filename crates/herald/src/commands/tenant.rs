use crate::cli::TenantCommand;
use herald_core::document::format_timestamp;
use herald_engine::tenants::Tenants;
use herald_store::Store;
use serde_json::json;
use std::sync::Arc;

pub async fn run(store: Arc<dyn Store>, command: TenantCommand) -> anyhow::Result<()> {
    let tenants = Tenants::new(store, super::clock()).acting_as("cli");
    match command {
        TenantCommand::Create { slug, name, time_zone } => {
            let key = tenants.create(&slug, name.as_deref(), time_zone.as_deref()).await?;
            println!("{}", json!({"tenant": key.tenant, "apiKey": key.secret}));
        }
        TenantCommand::List => {
            for tenant in tenants.list().await? {
                println!(
                    "{}",
                    json!({"tenant": tenant.slug, "name": tenant.name, "timeZone": tenant.time_zone, "createdAt": format_timestamp(tenant.created_at)})
                );
            }
        }
    }
    Ok(())
}
