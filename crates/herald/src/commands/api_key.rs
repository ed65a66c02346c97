use crate::cli::ApiKeyCommand;
use herald_core::access::Role;
use herald_core::document::format_timestamp;
use herald_engine::tenants::Tenants;
use herald_store::Store;
use serde_json::json;
use std::sync::Arc;

pub async fn run(store: Arc<dyn Store>, command: ApiKeyCommand) -> anyhow::Result<()> {
    let tenants = Tenants::new(store, super::clock()).acting_as("cli");
    match command {
        ApiKeyCommand::Create(args) => {
            let role = Role::parse(&args.role).map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let key = tenants.issue_key(&args.tenant, role).await?;
            println!("{}", json!({"tenant": key.tenant, "apiKey": key.secret, "role": key.role.as_str(), "keyId": key.key_id}));
        }
        ApiKeyCommand::List { tenant } => {
            for key in tenants.list_keys(&tenant).await? {
                let revoked = key.revoked_at.map(format_timestamp);
                println!(
                    "{}",
                    json!({"keyId": key.key_id, "role": key.role.as_str(), "createdAt": format_timestamp(key.created_at), "revokedAt": revoked})
                );
            }
        }
        ApiKeyCommand::Revoke { tenant, key_id } => {
            tenants.revoke_key(&tenant, &key_id).await?;
            println!("{}", json!({"keyId": key_id, "revoked": true}));
        }
    }
    Ok(())
}
