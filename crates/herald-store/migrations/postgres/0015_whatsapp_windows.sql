-- WhatsApp customer-service windows: when each number last wrote to a tenant's WhatsApp
-- business number (from the providers' inbound-message webhooks). Free-form messages may go
-- to a number only within 24 hours of that time.
CREATE TABLE whatsapp_windows (
    tenant_id       TEXT NOT NULL REFERENCES tenants(slug),
    phone           TEXT NOT NULL,
    last_inbound_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, phone)
);
