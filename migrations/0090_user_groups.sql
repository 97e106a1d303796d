-- Groups of users and the policy per group (src/grants/groups.ts, docs/operating.md#groups).
-- A user is in a group when an admin put them there (user_group_members) or when an identity
-- provider's group claim named the group at their last sign-in or re-check (user_upstream_groups,
-- replaced each time the provider answers). Group policies narrow what members' agents may get,
-- like per-agent policies; NULL resources or scopes: no restriction of that kind.
CREATE TABLE user_groups (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  created_by  TEXT NOT NULL
) STRICT;

CREATE TABLE user_group_members (
  group_id INTEGER NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
  user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  added_at INTEGER NOT NULL,
  added_by TEXT NOT NULL,
  PRIMARY KEY (group_id, user_id)
) STRICT;
CREATE INDEX user_group_members_user ON user_group_members (user_id);

CREATE TABLE user_upstream_groups (
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  issuer  TEXT NOT NULL,
  name    TEXT NOT NULL,
  PRIMARY KEY (user_id, issuer, name)
) STRICT;
CREATE INDEX user_upstream_groups_name ON user_upstream_groups (name);

CREATE TABLE group_policies (
  id         INTEGER PRIMARY KEY,
  group_id   INTEGER NOT NULL UNIQUE REFERENCES user_groups (id) ON DELETE CASCADE,
  resources  TEXT,
  scopes     TEXT,
  read_only  INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
  updated_at INTEGER NOT NULL,
  updated_by TEXT NOT NULL
) STRICT;
