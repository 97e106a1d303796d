-- The cap on unused registrations (src/provider/registration_guard.ts) counts the clients registered
-- since the cleanup cut-off, newest first, on every registration: index just the Client rows by age.
CREATE INDEX oidc_models_client_created ON oidc_models (created_at) WHERE model = 'Client';
