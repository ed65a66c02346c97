-- The audit trail: one row per change to configuration (settings, templates, preferences,
-- providers, keys, the tenant's profile) and per urgent quiet-hours bypass. Rows are only
-- ever inserted; no statement in Herald updates or deletes them.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(slug),
    id          TEXT NOT NULL UNIQUE,
    at_ms       INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    changes     TEXT NOT NULL,
    source      TEXT
);
CREATE INDEX audit_log_tenant ON audit_log(tenant_id, seq);

-- The tenant's profile, as templates and SMS HELP answers see it.
ALTER TABLE tenants ADD COLUMN phone TEXT;
ALTER TABLE tenants ADD COLUMN email TEXT;
ALTER TABLE tenants ADD COLUMN default_locale TEXT;
