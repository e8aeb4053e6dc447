-- When each API key was last used, reported by auth in batches. Not part of the configuration:
-- no revision trigger, so usage never moves the revision or wakes a Watch. No foreign key either
-- (a hand TRUNCATE of api_keys must keep working): a key's row goes when the key is deleted,
-- and the registry only ever lists rows of keys that exist.
CREATE TABLE api_key_use (
  key_id       text PRIMARY KEY,
  last_used_at timestamptz NOT NULL
);

CREATE FUNCTION forget_api_key_use() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM api_key_use WHERE key_id = OLD.id;
  RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_forget_use AFTER DELETE ON api_keys
  FOR EACH ROW EXECUTE FUNCTION forget_api_key_use();
