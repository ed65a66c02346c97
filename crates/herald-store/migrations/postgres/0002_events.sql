-- The events log, notification records, durable timed jobs and event deduplication.

ALTER TABLE tenants ADD COLUMN time_zone TEXT;

CREATE TABLE events (
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
CREATE INDEX events_doc ON events USING GIN (doc);

CREATE TABLE notifications (
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
CREATE INDEX notifications_doc ON notifications USING GIN (doc);
CREATE INDEX notifications_event_key ON notifications (tenant_id, (doc #>> '{event,key}'), (doc ->> 'recipient'));

CREATE TABLE jobs (
    seq         BIGSERIAL PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    id          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    due_ms      BIGINT NOT NULL,
    status      TEXT NOT NULL,
    payload     JSONB NOT NULL,
    attempts    BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    UNIQUE (tenant_id, id)
);
CREATE INDEX jobs_due ON jobs (status, due_ms);

CREATE TABLE event_dedup (
    tenant_id    TEXT NOT NULL REFERENCES tenants(slug),
    event_id     TEXT NOT NULL,
    event_doc_id TEXT NOT NULL,
    response     JSONB NOT NULL,
    received_ms  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
