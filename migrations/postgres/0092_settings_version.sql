-- The PostgreSQL twin of migrations/0092_settings_version.sql. Values come from a sequence, which
-- never hands out a value twice, even to a transaction that rolled back.
CREATE SEQUENCE settings_version_seq;
CREATE TABLE settings_version (
  id      BIGINT PRIMARY KEY CHECK (id = 1),
  version BIGINT NOT NULL
);
INSERT INTO settings_version (id, version) VALUES (1, nextval('settings_version_seq'));
CREATE FUNCTION bump_settings_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE settings_version SET version = nextval('settings_version_seq') WHERE id = 1;
  RETURN NULL;
END;
$$;
CREATE TRIGGER resources_settings_version AFTER INSERT OR UPDATE OR DELETE ON resources
  FOR EACH STATEMENT EXECUTE FUNCTION bump_settings_version();
CREATE TRIGGER resource_scopes_settings_version AFTER INSERT OR UPDATE OR DELETE ON resource_scopes
  FOR EACH STATEMENT EXECUTE FUNCTION bump_settings_version();
CREATE TRIGGER resource_scope_descriptions_settings_version AFTER INSERT OR UPDATE OR DELETE ON resource_scope_descriptions
  FOR EACH STATEMENT EXECUTE FUNCTION bump_settings_version();
CREATE TRIGGER resource_labels_settings_version AFTER INSERT OR UPDATE OR DELETE ON resource_labels
  FOR EACH STATEMENT EXECUTE FUNCTION bump_settings_version();
CREATE TRIGGER tool_labels_settings_version AFTER INSERT OR UPDATE OR DELETE ON tool_labels
  FOR EACH STATEMENT EXECUTE FUNCTION bump_settings_version();
CREATE TRIGGER agent_policies_settings_version AFTER INSERT OR UPDATE OR DELETE ON agent_policies
  FOR EACH STATEMENT EXECUTE FUNCTION bump_settings_version();
CREATE TRIGGER group_policies_settings_version AFTER INSERT OR UPDATE OR DELETE ON group_policies
  FOR EACH STATEMENT EXECUTE FUNCTION bump_settings_version();
CREATE TRIGGER user_groups_settings_version AFTER INSERT OR UPDATE OR DELETE ON user_groups
  FOR EACH STATEMENT EXECUTE FUNCTION bump_settings_version();
