-- An indexed copy of each collection's most-queried field (Collection::lookup_field),
-- so the engine's lookups do not scan documents.

ALTER TABLE users ADD COLUMN lookup_key TEXT;
UPDATE users SET lookup_key = json_extract(doc, '$.id') WHERE json_type(doc, '$.id') = 'text';
CREATE INDEX users_lookup ON users (tenant_id, lookup_key);

ALTER TABLE templates ADD COLUMN lookup_key TEXT;
UPDATE templates SET lookup_key = json_extract(doc, '$.name') WHERE json_type(doc, '$.name') = 'text';
CREATE INDEX templates_lookup ON templates (tenant_id, lookup_key);

ALTER TABLE notification_settings ADD COLUMN lookup_key TEXT;
UPDATE notification_settings SET lookup_key = json_extract(doc, '$.eventName') WHERE json_type(doc, '$.eventName') = 'text';
CREATE INDEX notification_settings_lookup ON notification_settings (tenant_id, lookup_key);

ALTER TABLE event_settings ADD COLUMN lookup_key TEXT;
UPDATE event_settings SET lookup_key = json_extract(doc, '$.eventName') WHERE json_type(doc, '$.eventName') = 'text';
CREATE INDEX event_settings_lookup ON event_settings (tenant_id, lookup_key);

ALTER TABLE events ADD COLUMN lookup_key TEXT;
UPDATE events SET lookup_key = json_extract(doc, '$.name') WHERE json_type(doc, '$.name') = 'text';
CREATE INDEX events_lookup ON events (tenant_id, lookup_key);

ALTER TABLE notifications ADD COLUMN lookup_key TEXT;
UPDATE notifications SET lookup_key = json_extract(doc, '$.event.key') WHERE json_type(doc, '$.event.key') = 'text';
CREATE INDEX notifications_lookup ON notifications (tenant_id, lookup_key);
