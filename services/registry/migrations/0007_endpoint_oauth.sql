-- OAuth settings of an endpoint: the authorization servers whose bearer JWTs it accepts, where
-- their signing keys are published, the scopes a token must carry and an optional audience
-- (empty: the endpoint's canonical URL).
ALTER TABLE endpoints
  ADD COLUMN oauth_issuers jsonb NOT NULL DEFAULT '[]'::jsonb
    CHECK (jsonb_typeof(oauth_issuers) = 'array'),
  ADD COLUMN oauth_jwks_url text NOT NULL DEFAULT '',
  ADD COLUMN oauth_required_scopes jsonb NOT NULL DEFAULT '[]'::jsonb
    CHECK (jsonb_typeof(oauth_required_scopes) = 'array'),
  ADD COLUMN oauth_audience text NOT NULL DEFAULT '';
