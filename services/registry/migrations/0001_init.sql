-- The configuration of record. Every table a Watch client sees bumps config_revision (once per
-- transaction) and notifies 'switchboard_config' with the new revision, so changes made by any
-- registry replica, or by hand in psql, reach every watcher.

CREATE TABLE servers (
  name         text PRIMARY KEY,
  type         text NOT NULL CHECK (type IN ('STDIO', 'SSE', 'STREAMABLE_HTTP')),
  description  text NOT NULL DEFAULT '',
  command      text NOT NULL DEFAULT '',
  args         jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(args) = 'array'),
  env          jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(env) = 'object'),
  url          text NOT NULL DEFAULT '',
  bearer_token text NOT NULL DEFAULT '',
  headers      jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(headers) = 'object'),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE namespaces (
  name           text PRIMARY KEY,
  description    text NOT NULL DEFAULT '',
  disable_prefix boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A namespace's servers in order; a server in use cannot be deleted.
CREATE TABLE namespace_servers (
  namespace_name text NOT NULL REFERENCES namespaces (name) ON DELETE CASCADE,
  server_name    text NOT NULL REFERENCES servers (name) ON DELETE RESTRICT,
  position       integer NOT NULL CHECK (position >= 0),
  disabled       boolean NOT NULL DEFAULT false,
  PRIMARY KEY (namespace_name, server_name),
  UNIQUE (namespace_name, position)
);
CREATE INDEX namespace_servers_server_idx ON namespace_servers (server_name);

CREATE TABLE endpoints (
  name                 text PRIMARY KEY,
  namespace_name       text NOT NULL REFERENCES namespaces (name) ON DELETE RESTRICT,
  description          text NOT NULL DEFAULT '',
  enable_api_key_auth  boolean NOT NULL DEFAULT true,
  use_query_param_auth boolean NOT NULL DEFAULT false,
  enable_oauth         boolean NOT NULL DEFAULT false,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX endpoints_namespace_idx ON endpoints (namespace_name);

CREATE TABLE users (
  email      text PRIMARY KEY,
  name       text NOT NULL DEFAULT '',
  is_admin   boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Only the SHA-256 of a key is kept; the clear key is shown to its owner once.
CREATE TABLE api_keys (
  id         text PRIMARY KEY,
  user_email text NOT NULL REFERENCES users (email) ON DELETE CASCADE,
  name       text NOT NULL DEFAULT '',
  prefix     text NOT NULL CHECK (length(prefix) <= 8),
  key_sha256 text NOT NULL UNIQUE CHECK (key_sha256 ~ '^[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_user_idx ON api_keys (user_email);

-- One row: the revision of the whole configuration.
CREATE TABLE config_revision (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  revision    bigint NOT NULL,
  bumped_xact bigint
);
INSERT INTO config_revision (singleton, revision) VALUES (true, 1);

-- Bumps the revision at most once per transaction and announces the new value. The row lock
-- taken here orders concurrent writers, so revisions follow commit order.
CREATE FUNCTION bump_config_revision() RETURNS trigger
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
  END IF;
  RETURN NULL;
END
$$;

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['servers', 'namespaces', 'namespace_servers', 'endpoints', 'users',
                           'api_keys'] LOOP
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I '
                   'FOR EACH ROW EXECUTE FUNCTION bump_config_revision()',
                   t || '_bump_revision', t);
    EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION bump_config_revision()',
                   t || '_truncate_bump_revision', t);
  END LOOP;
END
$$;
