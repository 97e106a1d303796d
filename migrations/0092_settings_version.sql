-- The settings every token request reads (MCP servers with their scopes and labels, labelled
-- tools, agent and group policies) change only when an admin changes them. Each node keeps them in
-- memory (src/storage/settings_cache.ts) and checks them with one read of this row: every change,
-- by any writer (this server, another node, the CLI in another shell), gives it a new value in the
-- same transaction, through the triggers below.
--
-- The value is random, not a count: a rolled-back change may have shown its value to the
-- transaction that made it, and a later change must not reuse it.
CREATE TABLE settings_version (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
) STRICT;
INSERT INTO settings_version (id, version) VALUES (1, random());
CREATE TRIGGER resources_insert_settings_version AFTER INSERT ON resources
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER resources_update_settings_version AFTER UPDATE ON resources
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER resources_delete_settings_version AFTER DELETE ON resources
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER resource_scopes_insert_settings_version AFTER INSERT ON resource_scopes
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER resource_scopes_update_settings_version AFTER UPDATE ON resource_scopes
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER resource_scopes_delete_settings_version AFTER DELETE ON resource_scopes
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER resource_scope_descriptions_insert_settings_version AFTER INSERT ON resource_scope_descriptions
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER resource_scope_descriptions_update_settings_version AFTER UPDATE ON resource_scope_descriptions
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER resource_scope_descriptions_delete_settings_version AFTER DELETE ON resource_scope_descriptions
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER resource_labels_insert_settings_version AFTER INSERT ON resource_labels
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER resource_labels_update_settings_version AFTER UPDATE ON resource_labels
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER resource_labels_delete_settings_version AFTER DELETE ON resource_labels
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER tool_labels_insert_settings_version AFTER INSERT ON tool_labels
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER tool_labels_update_settings_version AFTER UPDATE ON tool_labels
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER tool_labels_delete_settings_version AFTER DELETE ON tool_labels
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER agent_policies_insert_settings_version AFTER INSERT ON agent_policies
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER agent_policies_update_settings_version AFTER UPDATE ON agent_policies
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER agent_policies_delete_settings_version AFTER DELETE ON agent_policies
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER group_policies_insert_settings_version AFTER INSERT ON group_policies
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER group_policies_update_settings_version AFTER UPDATE ON group_policies
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER group_policies_delete_settings_version AFTER DELETE ON group_policies
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER user_groups_insert_settings_version AFTER INSERT ON user_groups
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER user_groups_update_settings_version AFTER UPDATE ON user_groups
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
CREATE TRIGGER user_groups_delete_settings_version AFTER DELETE ON user_groups
BEGIN UPDATE settings_version SET version = random() WHERE id = 1; END;
