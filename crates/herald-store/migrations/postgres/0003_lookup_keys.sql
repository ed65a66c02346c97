-- An indexed copy of each collection's most-queried field (Collection::lookup_field),
-- so the engine's lookups do not scan documents.

ALTER TABLE users ADD COLUMN lookup_key TEXT;
UPDATE users SET lookup_key = doc #>> '{id}' WHERE jsonb_typeof(doc #> '{id}') = 'string';
CREATE INDEX users_lookup ON users (tenant_id, lookup_key);

ALTER TABLE templates ADD COLUMN lookup_key TEXT;
UPDATE templates SET lookup_key = doc #>> '{name}' WHERE jsonb_typeof(doc #> '{name}') = 'string';
CREATE INDEX templates_lookup ON templates (tenant_id, lookup_key);

ALTER TABLE notification_settings ADD COLUMN lookup_key TEXT;
UPDATE notification_settings SET lookup_key = doc #>> '{eventName}' WHERE jsonb_typeof(doc #> '{eventName}') = 'string';
CREATE INDEX notification_settings_lookup ON notification_settings (tenant_id, lookup_key);

ALTER TABLE event_settings ADD COLUMN lookup_key TEXT;
UPDATE event_settings SET lookup_key = doc #>> '{eventName}' WHERE jsonb_typeof(doc #> '{eventName}') = 'string';
CREATE INDEX event_settings_lookup ON event_settings (tenant_id, lookup_key);

ALTER TABLE events ADD COLUMN lookup_key TEXT;
UPDATE events SET lookup_key = doc #>> '{name}' WHERE jsonb_typeof(doc #> '{name}') = 'string';
CREATE INDEX events_lookup ON events (tenant_id, lookup_key);

ALTER TABLE notifications ADD COLUMN lookup_key TEXT;
UPDATE notifications SET lookup_key = doc #>> '{event,key}' WHERE jsonb_typeof(doc #> '{event,key}') = 'string';
CREATE INDEX notifications_lookup ON notifications (tenant_id, lookup_key);
