-- Blind indexes for exact-match search on sealed elements (email, phone): HMAC-SHA256 of the
-- normalized value under a key derived separately from the encryption keys. The plaintext is
-- never stored; the hash alone does not reveal it without the key.
CREATE TABLE blind_index (
    resource_key bigint NOT NULL REFERENCES resource (resource_key) ON DELETE CASCADE,
    param        text   NOT NULL,
    hash         bytea  NOT NULL
);

CREATE INDEX blind_index_lookup ON blind_index (param, hash) INCLUDE (resource_key);
CREATE INDEX blind_index_resource ON blind_index (resource_key);
