-- The versioned resource store: one row per current resource, one per version in history,
-- and narrow token index rows written in the same transaction as the resource.

CREATE TABLE resource (
    resource_key  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type          text        NOT NULL,
    id            text        NOT NULL,
    version_id    integer     NOT NULL,
    last_updated  timestamptz NOT NULL,
    deleted       boolean     NOT NULL DEFAULT false,
    -- The resource without its sealed elements; NULL once deleted.
    content       jsonb,
    -- Sealed (encrypted) elements and the id of the key that sealed them.
    sealed        bytea,
    key_id        text,
    -- Which version of the search extraction wrote this row's index rows.
    index_version integer     NOT NULL DEFAULT 1,
    CONSTRAINT resource_type_id UNIQUE (type, id)
);

CREATE INDEX resource_type_recent ON resource (type, last_updated DESC, resource_key DESC);

-- Append-only: one row per version, including deletions.
CREATE TABLE resource_history (
    history_key   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource_key  bigint      NOT NULL REFERENCES resource (resource_key),
    type          text        NOT NULL,
    id            text        NOT NULL,
    version_id    integer     NOT NULL,
    last_updated  timestamptz NOT NULL,
    deleted       boolean     NOT NULL,
    method        text        NOT NULL,
    content       jsonb,
    sealed        bytea,
    key_id        text,
    CONSTRAINT resource_history_version UNIQUE (resource_key, version_id)
);

CREATE INDEX resource_history_type ON resource_history (type, history_key DESC);
CREATE INDEX resource_history_instance ON resource_history (type, id, version_id);
CREATE INDEX resource_history_updated ON resource_history (last_updated, history_key);

-- Token search values as 64-bit hashes of (type, param, system, code) and (type, param, code).
CREATE TABLE search_token (
    resource_key bigint NOT NULL REFERENCES resource (resource_key) ON DELETE CASCADE,
    system_code  bigint NOT NULL,
    code         bigint NOT NULL
);

CREATE INDEX search_token_system_code ON search_token (system_code) INCLUDE (resource_key);
CREATE INDEX search_token_code ON search_token (code) INCLUDE (resource_key);
CREATE INDEX search_token_resource ON search_token (resource_key);
