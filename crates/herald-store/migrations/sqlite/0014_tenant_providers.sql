-- A tenant's own providers per channel (Collection::Providers): each document is one entry
-- {name, channel, priority, enabled, config} whose config is a ProviderConfig with every
-- secret sealed (`v1:<key id>:<nonce and ciphertext>`). The lookup key is the channel, so
-- the dispatcher reads a tenant's entries for one channel through an index.

CREATE TABLE tenant_providers (
    seq         INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    id          TEXT NOT NULL,
    unique_key  TEXT,
    lookup_key  TEXT,
    doc         TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    creator_id  TEXT NOT NULL,
    updater_id  TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, unique_key)
);
CREATE INDEX tenant_providers_lookup ON tenant_providers (tenant_id, lookup_key);
