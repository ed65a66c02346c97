-- Every change to the configuration Herald caches (tenants, API keys, templates, notification
-- and event settings, tenants' providers, clinic settings) notifies the channel
-- `herald_config` with the changed tenant's slug, in the changing transaction. PostgreSQL
-- delivers notifications when the transaction commits, once per distinct payload, so each
-- listening Herald instance drops that tenant's cached answers right after the change is
-- visible (see herald-store's cache module). TRUNCATE notifies nothing: Herald never truncates.

CREATE FUNCTION herald_notify_config_change() RETURNS trigger AS $$
BEGIN
    -- TG_ARGV[0] names the column that holds the tenant's slug.
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('herald_config', to_jsonb(OLD) ->> TG_ARGV[0]);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('herald_config', to_jsonb(NEW) ->> TG_ARGV[0]);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tenants_config_change AFTER INSERT OR UPDATE OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION herald_notify_config_change('slug');
CREATE TRIGGER api_keys_config_change AFTER INSERT OR UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION herald_notify_config_change('tenant_id');
CREATE TRIGGER templates_config_change AFTER INSERT OR UPDATE OR DELETE ON templates
    FOR EACH ROW EXECUTE FUNCTION herald_notify_config_change('tenant_id');
CREATE TRIGGER notification_settings_config_change AFTER INSERT OR UPDATE OR DELETE ON notification_settings
    FOR EACH ROW EXECUTE FUNCTION herald_notify_config_change('tenant_id');
CREATE TRIGGER event_settings_config_change AFTER INSERT OR UPDATE OR DELETE ON event_settings
    FOR EACH ROW EXECUTE FUNCTION herald_notify_config_change('tenant_id');
CREATE TRIGGER tenant_providers_config_change AFTER INSERT OR UPDATE OR DELETE ON tenant_providers
    FOR EACH ROW EXECUTE FUNCTION herald_notify_config_change('tenant_id');
CREATE TRIGGER clinic_settings_config_change AFTER INSERT OR UPDATE OR DELETE ON clinic_settings
    FOR EACH ROW EXECUTE FUNCTION herald_notify_config_change('tenant_id');
