-- The patient notification center (seed 04): one entry per delivered in-app message, for its
-- recipient. `number` is the entry's place in the user's inbox (assigned once, for cursor
-- paging, newest first) and `seq` the user's change sequence at its last change (creation,
-- read, dismiss, archive), so a real-time client resumes with "everything after seq N". Both
-- come from the user's counter in inbox_counters, taken in the writing transaction.
CREATE TABLE inbox_counters (
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    user_id     TEXT NOT NULL,
    last_seq    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE inbox (
    tenant_id        TEXT NOT NULL REFERENCES tenants(slug),
    id               TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    number           BIGINT NOT NULL,
    seq              BIGINT NOT NULL,
    notification_id  TEXT NOT NULL,
    message_index    BIGINT NOT NULL,
    type             TEXT,
    priority         TEXT NOT NULL,
    title            TEXT,
    body             TEXT NOT NULL,
    data             JSONB NOT NULL,
    created_ms       BIGINT NOT NULL,
    updated_ms       BIGINT NOT NULL,
    read_ms          BIGINT,
    dismissed_ms     BIGINT,
    archived_ms      BIGINT,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, notification_id, message_index)
);

CREATE UNIQUE INDEX inbox_by_number ON inbox (tenant_id, user_id, number);
CREATE INDEX inbox_by_seq ON inbox (tenant_id, user_id, seq);
