-- No query reads jobs by status and due time across tenants any more: claims go through
-- jobs_tenant_due (0007). Dropping the unused index saves an index write per job inserted and
-- per status change.
DROP INDEX jobs_due;
