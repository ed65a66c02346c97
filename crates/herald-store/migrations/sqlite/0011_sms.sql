-- SMS consent: numbers that replied STOP to a tenant's SMS (until they reply START). An SMS
-- to a number listed here is not sent.
CREATE TABLE sms_opt_outs (
    tenant_id    TEXT NOT NULL REFERENCES tenants(slug),
    phone        TEXT NOT NULL,
    opted_out_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, phone)
);

-- SMS abuse safeguards: per tenant and number, the current window's start, how many SMS went
-- in it and when the last one went. Updated by compare-and-swap, so several Herald instances
-- never both take the last send of a window.
CREATE TABLE sms_number_usage (
    tenant_id       TEXT NOT NULL REFERENCES tenants(slug),
    phone           TEXT NOT NULL,
    window_start_ms INTEGER NOT NULL,
    sends           INTEGER NOT NULL,
    last_sent_ms    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, phone)
);
