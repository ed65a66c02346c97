-- Tenants, API keys and the four configuration collections.
-- Timestamps are epoch milliseconds; documents are JSONB.

CREATE TABLE tenants (
    slug        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    key_id      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    role        TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    created_ms  BIGINT NOT NULL,
    revoked_ms  BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

CREATE TABLE users (
    seq         BIGSERIAL PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    id          TEXT NOT NULL,
    unique_key  TEXT,
    doc         JSONB NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    creator_id  TEXT NOT NULL,
    updater_id  TEXT NOT NULL,
    revision    BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, unique_key)
);
CREATE INDEX users_doc ON users USING GIN (doc);

CREATE TABLE templates (
    seq         BIGSERIAL PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    id          TEXT NOT NULL,
    unique_key  TEXT,
    doc         JSONB NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    creator_id  TEXT NOT NULL,
    updater_id  TEXT NOT NULL,
    revision    BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, unique_key)
);
CREATE INDEX templates_doc ON templates USING GIN (doc);

CREATE TABLE notification_settings (
    seq         BIGSERIAL PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    id          TEXT NOT NULL,
    unique_key  TEXT,
    doc         JSONB NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    creator_id  TEXT NOT NULL,
    updater_id  TEXT NOT NULL,
    revision    BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, unique_key)
);
CREATE INDEX notification_settings_doc ON notification_settings USING GIN (doc);

CREATE TABLE event_settings (
    seq         BIGSERIAL PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    id          TEXT NOT NULL,
    unique_key  TEXT,
    doc         JSONB NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    creator_id  TEXT NOT NULL,
    updater_id  TEXT NOT NULL,
    revision    BIGINT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, unique_key)
);
CREATE INDEX event_settings_doc ON event_settings USING GIN (doc);
