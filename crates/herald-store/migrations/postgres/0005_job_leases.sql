-- Timed jobs are claimed with a lease: a job whose worker died is claimable again once its
-- lease runs out. Failed jobs keep their last error.
ALTER TABLE jobs ADD COLUMN lease_ms BIGINT;
ALTER TABLE jobs ADD COLUMN last_error TEXT;
