-- Identity (accounts, sessions, refresh tokens, system clients), access (which patients a
-- resource belongs to, which doctors care for which patients) and the append-only audit log.

-- People's accounts. The email is never stored in clear: `email_lookup` is its blind-index
-- HMAC (login lookup and uniqueness after normalization), `email_sealed` the AES-GCM box.
CREATE TABLE app_user (
    id            text        PRIMARY KEY,
    email_lookup  bytea       NOT NULL UNIQUE,
    email_sealed  bytea       NOT NULL,
    email_key_id  text        NOT NULL,
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('admin', 'doctor', 'patient', 'billing')),
    status        text        NOT NULL CHECK (status IN ('active', 'pending', 'disabled')),
    -- The linked resource: 'Patient/<id>' or 'Practitioner/<id>'.
    fhir_user     text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- One login session = one refresh-token family. Every access token names its session (`sid`);
-- revoking the session ends the access tokens and the refresh tokens at once.
CREATE TABLE auth_session (
    id             text        PRIMARY KEY,
    user_id        text        NOT NULL REFERENCES app_user (id),
    -- The SMART scopes granted at login; refreshed tokens carry the same.
    scope          text        NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text
);
CREATE INDEX auth_session_user ON auth_session (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens, stored as SHA-256 hashes; each is used once (`used_at`), and a second use
-- revokes its whole family.
CREATE TABLE refresh_token (
    token_hash text        PRIMARY KEY,
    session_id text        NOT NULL REFERENCES auth_session (id),
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

-- Access-token ids revoked before they expire (logout). Rows past `expires_at` are dead weight.
CREATE TABLE revoked_access_token (
    jti        text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

-- OAuth 2.0 client-credentials clients (partner systems, bulk jobs): only a hash of the secret.
CREATE TABLE system_client (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    secret_hash text        NOT NULL,
    scopes      text        NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

-- Failed logins per email (by its blind-index HMAC, so unknown emails lock exactly like known
-- ones and a lock says nothing about whether the account exists).
CREATE TABLE login_attempt (
    email_lookup bytea       PRIMARY KEY,
    failures     integer     NOT NULL,
    first_failed timestamptz NOT NULL,
    locked_until timestamptz
);

-- The patients whose compartment holds each current resource (CompartmentDefinition/patient),
-- rewritten with the resource.
CREATE TABLE resource_patient (
    resource_key bigint NOT NULL REFERENCES resource (resource_key) ON DELETE CASCADE,
    patient_id   text   NOT NULL
);
CREATE INDEX resource_patient_patient ON resource_patient (patient_id, resource_key);
CREATE INDEX resource_patient_resource ON resource_patient (resource_key);

-- Which practitioner cares for which patient, and the resource that says so: an Encounter
-- participant, a Patient's generalPractitioner, or a resource the doctor wrote in the
-- patient's compartment ('author', kept when the resource later changes).
CREATE TABLE care_relationship (
    practitioner_id text   NOT NULL,
    patient_id      text   NOT NULL,
    kind            text   NOT NULL,
    resource_key    bigint NOT NULL REFERENCES resource (resource_key) ON DELETE CASCADE,
    PRIMARY KEY (practitioner_id, patient_id, kind, resource_key)
);
CREATE INDEX care_relationship_resource ON care_relationship (resource_key);

-- The audit log: one row per access, holding the facts of its AuditEvent (who, what, when,
-- outcome, purpose, patients). The FHIR AuditEvent (IHE BALP shape) is rendered from these columns
-- by AuditEventBuilder on read, deterministically: the log stays narrow and cheap to append (no
-- JSON built or parsed per request). Append-only: triggers refuse UPDATE, DELETE and TRUNCATE for
-- every role, the server's included.
CREATE TABLE audit_event (
    audit_key          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                 uuid        NOT NULL UNIQUE,
    recorded           timestamptz NOT NULL,
    action             text        NOT NULL,
    subtype            text        NOT NULL,
    outcome            text        NOT NULL,
    outcome_desc       text,
    agent_id           text,
    agent_role         text,
    agent_fhir_user    text,
    agent_is_client    boolean     NOT NULL,
    client_address     text,
    purpose            text,
    break_glass_reason text,
    entity_type        text,
    entity_id          text,
    entity_version     integer,
    patient_ids        text[]      NOT NULL DEFAULT '{}',
    query              text
);
CREATE INDEX audit_event_patient ON audit_event USING gin (patient_ids);
CREATE INDEX audit_event_agent ON audit_event (agent_id, audit_key);

CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
