-- notifications are looked up by event key through lookup_key (0003); the expression index
-- over the JSON document only slowed every insert.
DROP INDEX notifications_event_key;
