-- The message log: one row per message of a notification, written in the same transaction
-- as the notification (at the event's commit and at each delivery step). It answers the
-- message-log queries and leads provider callbacks to their message by provider message id.
CREATE TABLE message_log (
    tenant_id            TEXT NOT NULL REFERENCES tenants(slug),
    notification_id      TEXT NOT NULL,
    message_index        INTEGER NOT NULL,
    channel              TEXT NOT NULL,
    template_name        TEXT NOT NULL,
    recipient            TEXT,
    address              TEXT,
    subject              TEXT,
    event_id             TEXT,
    event_name           TEXT,
    status               TEXT NOT NULL,
    reason               TEXT,
    error                TEXT,
    service              TEXT,
    provider_message_id  TEXT,
    triggered_by         TEXT NOT NULL,
    created_ms           INTEGER NOT NULL,
    updated_ms           INTEGER NOT NULL,
    sent_ms              INTEGER,
    PRIMARY KEY (tenant_id, notification_id, message_index)
);
CREATE INDEX message_log_created ON message_log(tenant_id, created_ms);
CREATE INDEX message_log_provider_id ON message_log(provider_message_id, service) WHERE provider_message_id IS NOT NULL;
