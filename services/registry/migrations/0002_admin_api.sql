-- The admin API: per-object revisions for optimistic concurrency, endpoint rate limits and
-- allowed Origins, API key expiry and endpoint scope, tool overrides, and the audit log.

-- The revision this transaction's writes make, bumping it (and announcing it) on the first call
-- in a transaction; later calls in the same transaction return the same value.
CREATE FUNCTION config_revision_for_write() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  next_revision bigint;
BEGIN
  UPDATE config_revision
     SET revision = revision + 1, bumped_xact = txid_current()
   WHERE bumped_xact IS DISTINCT FROM txid_current()
  RETURNING revision INTO next_revision;
  IF next_revision IS NOT NULL THEN
    PERFORM pg_notify('switchboard_config', next_revision::text);
    RETURN next_revision;
  END IF;
  SELECT revision INTO next_revision FROM config_revision;
  RETURN next_revision;
END
$$;

-- Same behaviour as before, now sharing config_revision_for_write.
CREATE OR REPLACE FUNCTION bump_config_revision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM config_revision_for_write();
  RETURN NULL;
END
$$;

-- Stamps a row being written with the revision of its transaction.
CREATE FUNCTION stamp_config_revision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.revision := config_revision_for_write();
  RETURN NEW;
END
$$;

-- The current revision; used once below to stamp rows that existed before this migration.
CREATE FUNCTION current_config_revision() RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT revision FROM config_revision $$;

ALTER TABLE endpoints
  ADD COLUMN user_requests_per_minute integer NOT NULL DEFAULT 0
    CHECK (user_requests_per_minute >= 0),
  ADD COLUMN requests_per_minute integer NOT NULL DEFAULT 0 CHECK (requests_per_minute >= 0),
  ADD COLUMN allowed_origins jsonb NOT NULL DEFAULT '[]'::jsonb
    CHECK (jsonb_typeof(allowed_origins) = 'array');

ALTER TABLE api_keys
  ADD COLUMN expires_at timestamptz,
  ADD COLUMN endpoints jsonb NOT NULL DEFAULT '[]'::jsonb
    CHECK (jsonb_typeof(endpoints) = 'array');

-- How a namespace shows one upstream tool. Removing the namespace removes its overrides; a
-- server cannot be deleted while it is in a namespace, and its overrides go with it.
CREATE TABLE tool_overrides (
  namespace_name text NOT NULL REFERENCES namespaces (name) ON DELETE CASCADE,
  server_name    text NOT NULL REFERENCES servers (name) ON DELETE CASCADE,
  tool_name      text NOT NULL CHECK (length(tool_name) BETWEEN 1 AND 128),
  new_name       text NOT NULL DEFAULT '',
  title          text NOT NULL DEFAULT '',
  description    text NOT NULL DEFAULT '',
  annotations    text NOT NULL DEFAULT '',
  disabled       boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace_name, server_name, tool_name)
);
CREATE INDEX tool_overrides_server_idx ON tool_overrides (server_name);

CREATE TRIGGER tool_overrides_bump_revision AFTER INSERT OR UPDATE OR DELETE ON tool_overrides
  FOR EACH ROW EXECUTE FUNCTION bump_config_revision();
CREATE TRIGGER tool_overrides_truncate_bump_revision AFTER TRUNCATE ON tool_overrides
  FOR EACH STATEMENT EXECUTE FUNCTION bump_config_revision();

-- Each object's revision: the configuration revision at which it last changed. Rows that
-- exist already take the current revision (a column default: no row trigger fires).
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['servers', 'namespaces', 'endpoints', 'users', 'api_keys',
                           'tool_overrides'] LOOP
    EXECUTE format('ALTER TABLE %I ADD COLUMN revision bigint NOT NULL '
                   'DEFAULT current_config_revision()', t);
    EXECUTE format('ALTER TABLE %I ALTER COLUMN revision SET DEFAULT 0', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON %I '
                   'FOR EACH ROW EXECUTE FUNCTION stamp_config_revision()',
                   t || '_stamp_revision', t);
  END LOOP;
END
$$;

-- A namespace's membership is part of the namespace: a change to it, even one made by hand,
-- moves the namespace's revision.
CREATE FUNCTION stamp_namespace_revision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    UPDATE namespaces SET revision = 0 WHERE name = OLD.namespace_name;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    UPDATE namespaces SET revision = 0 WHERE name = NEW.namespace_name;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER namespace_servers_stamp_namespace AFTER INSERT OR UPDATE OR DELETE
  ON namespace_servers FOR EACH ROW EXECUTE FUNCTION stamp_namespace_revision();

-- Who changed what, when; secrets are redacted by the registry before they get here. Not part
-- of the configuration: writing it does not move the revision.
CREATE TABLE audit_log (
  id     bigserial PRIMARY KEY,
  at     timestamptz NOT NULL DEFAULT now(),
  actor  text NOT NULL,
  action text NOT NULL,
  kind   text NOT NULL,
  name   text NOT NULL,
  before jsonb,
  after  jsonb
);
CREATE INDEX audit_log_object_idx ON audit_log (kind, name, id);
CREATE INDEX audit_log_at_idx ON audit_log (at);
