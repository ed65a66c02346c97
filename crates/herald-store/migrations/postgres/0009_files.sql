-- The files service: each stored file's metadata. The bytes live in the configured object
-- store under `<tenant>/<id>`; the name is what recipients see and is unique per tenant.
CREATE TABLE files (
    tenant_id     TEXT NOT NULL REFERENCES tenants(slug),
    id            TEXT NOT NULL,
    name          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    sha256        TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    creator_id    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);
CREATE INDEX files_by_creation ON files (tenant_id, created_ms, id);
