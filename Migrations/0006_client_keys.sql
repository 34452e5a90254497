-- SMART Backend Services: system clients that authenticate with a signed JWT assertion
-- (private_key_jwt) instead of, or besides, a secret. A client registers its public keys as a
-- JWKS (stored as JSON text, public members only) or a JWKS URL (fetched at token time; only
-- URLs under medrec.auth.jwksUrlAllowlist are accepted at registration). A client with keys
-- may have no secret.

ALTER TABLE system_client
    ADD COLUMN jwks     text,
    ADD COLUMN jwks_url text,
    ALTER COLUMN secret_hash DROP NOT NULL,
    ADD CONSTRAINT system_client_has_credential
        CHECK (secret_hash IS NOT NULL OR jwks IS NOT NULL OR jwks_url IS NOT NULL);

-- The `jti` of every accepted client assertion, kept until the assertion expires, so that an
-- assertion (or any other carrying the same jti) is accepted once.
CREATE TABLE client_assertion_jti (
    client_id  text        NOT NULL REFERENCES system_client (id),
    jti        text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);

CREATE INDEX client_assertion_jti_expires ON client_assertion_jti (expires_at);
