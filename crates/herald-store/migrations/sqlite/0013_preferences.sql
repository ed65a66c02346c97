-- Recipients' notification preferences (one document per user: master toggle, per type and
-- channel, locale, time zone, quiet hours) and each clinic's settings per notification type
-- (one document per tenant).
CREATE TABLE preferences (
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    user_id     TEXT NOT NULL,
    doc         TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE clinic_settings (
    tenant_id   TEXT PRIMARY KEY REFERENCES tenants(slug),
    doc         TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL
);
