-- Idempotency-Key: the first answer to a (tenant, route, key), with the hash of the body it
-- answered; a pending claim has no answer yet.
CREATE TABLE idempotency_keys (
    tenant_id    TEXT NOT NULL REFERENCES tenants(slug),
    route        TEXT NOT NULL,
    key          TEXT NOT NULL,
    body_hash    TEXT NOT NULL,
    status       INTEGER,
    response     TEXT,
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, route, key)
);
