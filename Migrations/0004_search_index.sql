-- The search index (issue 6): one narrow table per value kind, keyed by resource_key. Every row
-- carries `param`, a 64-bit hash of (resource type, parameter code), so each search is an index
-- range scan on (param, value) and each row already implies the resource type. Rows are written
-- in the same statement or transaction as the resource and removed when it is deleted;
-- `resource.index_version` says which extraction wrote a row's entries (`medrec reindex`).
-- No foreign keys: resources are never removed, and the checks would tax every write.

-- Tokens as hashes (SearchTokenHash): (type, param, system, code), (type, param, code) and
-- (type, param, system). Replaces the identifier-only table of migration 0001.
DROP TABLE search_token;
CREATE TABLE search_token (
    resource_key bigint NOT NULL,
    param        bigint NOT NULL,
    system_code  bigint NOT NULL,
    code         bigint NOT NULL,
    system       bigint NOT NULL
);
CREATE INDEX search_token_code ON search_token (code, resource_key);
CREATE INDEX search_token_system_code ON search_token (system_code, resource_key);
CREATE INDEX search_token_system ON search_token (system, resource_key);
CREATE INDEX search_token_resource ON search_token (resource_key, param);

-- Strings: `normalized` is case- and accent-folded (prefix and :contains), `exact` as written.
-- Also token display texts (`:text`) under the parameter code "<code>:text".
CREATE TABLE search_string (
    resource_key bigint NOT NULL,
    param        bigint NOT NULL,
    normalized   text   NOT NULL COLLATE "C",
    exact        text   NOT NULL COLLATE "C"
);
CREATE INDEX search_string_value ON search_string (param, normalized) INCLUDE (resource_key);
CREATE INDEX search_string_resource ON search_string (resource_key, param) INCLUDE (normalized);

-- Dates as the span they cover: inclusive low, exclusive high.
CREATE TABLE search_date (
    resource_key bigint      NOT NULL,
    param        bigint      NOT NULL,
    low          timestamptz NOT NULL,
    high         timestamptz NOT NULL
);
CREATE INDEX search_date_low ON search_date (param, low) INCLUDE (high, resource_key);
CREATE INDEX search_date_high ON search_date (param, high) INCLUDE (low, resource_key);
CREATE INDEX search_date_resource ON search_date (resource_key, param) INCLUDE (low, high);

-- References: a local target as (type, id); an absolute or other URL in `url`.
CREATE TABLE search_reference (
    resource_key bigint NOT NULL,
    param        bigint NOT NULL,
    target_type  text COLLATE "C",
    target_id    text COLLATE "C",
    url          text COLLATE "C"
);
CREATE INDEX search_reference_target ON search_reference (param, target_id, target_type) INCLUDE (resource_key);
CREATE INDEX search_reference_url ON search_reference (param, url) INCLUDE (resource_key) WHERE url IS NOT NULL;
CREATE INDEX search_reference_resource ON search_reference (resource_key, param) INCLUDE (target_type, target_id);

CREATE TABLE search_number (
    resource_key bigint  NOT NULL,
    param        bigint  NOT NULL,
    value        numeric NOT NULL
);
CREATE INDEX search_number_value ON search_number (param, value) INCLUDE (resource_key);
CREATE INDEX search_number_resource ON search_number (resource_key, param) INCLUDE (value);

-- Quantities (Money: code = ISO 4217 currency, system urn:iso:std:iso:4217).
CREATE TABLE search_quantity (
    resource_key bigint  NOT NULL,
    param        bigint  NOT NULL,
    value        numeric NOT NULL,
    system       text COLLATE "C",
    code         text COLLATE "C",
    unit         text COLLATE "C"
);
CREATE INDEX search_quantity_value ON search_quantity (param, value) INCLUDE (resource_key);
CREATE INDEX search_quantity_resource ON search_quantity (resource_key, param) INCLUDE (value);

CREATE TABLE search_uri (
    resource_key bigint NOT NULL,
    param        bigint NOT NULL,
    value        text   NOT NULL COLLATE "C"
);
CREATE INDEX search_uri_value ON search_uri (param, value) INCLUDE (resource_key);
CREATE INDEX search_uri_resource ON search_uri (resource_key, param) INCLUDE (value);

-- Rows written before this migration (index_version < 3) have no entries in the new tables;
-- the reindexer (`medrec reindex`, and the server in the background at start-up) fills them.

-- Keyset paging on the default order and id lookups for system search.
CREATE INDEX resource_type_key ON resource (type, resource_key) WHERE NOT deleted;
