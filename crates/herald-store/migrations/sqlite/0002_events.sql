-- The events log, notification records, durable timed jobs and event deduplication.

ALTER TABLE tenants ADD COLUMN time_zone TEXT;

CREATE TABLE events (
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

CREATE TABLE notifications (
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
CREATE INDEX notifications_event_key ON notifications(tenant_id, json_extract(doc, '$.event.key'), json_extract(doc, '$.recipient'));

CREATE TABLE jobs (
    seq         INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    due_ms      INTEGER NOT NULL,
    status      TEXT NOT NULL,
    payload     TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    UNIQUE (tenant_id, id)
);
CREATE INDEX jobs_due ON jobs(status, due_ms);

CREATE TABLE event_dedup (
    tenant_id    TEXT NOT NULL REFERENCES tenants(slug),
    event_id     TEXT NOT NULL,
    event_doc_id TEXT NOT NULL,
    response     TEXT NOT NULL,
    received_ms  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
