-- Due jobs are claimed a fair share per tenant, so each tenant's due jobs are found by index.
CREATE INDEX jobs_tenant_due ON jobs (tenant_id, status, due_ms);
