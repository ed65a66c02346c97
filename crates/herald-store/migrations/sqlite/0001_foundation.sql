-- Tenants, API keys and the four configuration collections.
-- Timestamps are epoch milliseconds; documents are JSON text.

CREATE TABLE tenants (
    slug        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    key_id      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    role        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

CREATE TABLE users (
    seq         INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    id          TEXT NOT NULL,
    unique_key  TEXT,
    doc         TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    creator_id  TEXT NOT NULL,
    updater_id  TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, unique_key)
);

CREATE TABLE templates (
    seq         INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    id          TEXT NOT NULL,
    unique_key  TEXT,
    doc         TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    creator_id  TEXT NOT NULL,
    updater_id  TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, unique_key)
);

CREATE TABLE notification_settings (
    seq         INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    id          TEXT NOT NULL,
    unique_key  TEXT,
    doc         TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    creator_id  TEXT NOT NULL,
    updater_id  TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, unique_key)
);
CREATE INDEX notification_settings_event ON notification_settings(tenant_id, json_extract(doc, '$.eventName'));

CREATE TABLE event_settings (
    seq         INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    id          TEXT NOT NULL,
    unique_key  TEXT,
    doc         TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    creator_id  TEXT NOT NULL,
    updater_id  TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, unique_key)
);
