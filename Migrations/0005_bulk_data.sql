-- Bulk data ($export, $import) as durable jobs, and what an export needs to read one
-- consistent snapshot across restarts.

-- The transaction that wrote each version. An export records `pg_current_snapshot()` at kick-off
-- and picks, per resource, the newest version whose transaction that snapshot sees, so a job
-- resumed by another process after a crash still reads the database as of its transactionTime.
-- (Rows written before this migration get the migration's own transaction: committed long ago.)
ALTER TABLE resource_history ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();

-- One row per job. `owner_*` is who kicked it off: only they see its status and files, and the
-- job runs with their rights. `cursor` is how far the committed batches got; `worker` and
-- `heartbeat_at` are the claim (a running job whose heartbeat is stale is claimed again).
CREATE TABLE bulk_job (
    id               uuid        PRIMARY KEY,
    kind             text        NOT NULL CHECK (kind IN ('export', 'import')),
    status           text        NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    owner_subject    text        NOT NULL,
    owner_role       text        NOT NULL,
    owner_scopes     text        NOT NULL,
    owner_fhir_user  text,
    client_address   text,
    -- The kick-off request URL (the manifest's `request`).
    request          text        NOT NULL,
    -- The parsed parameters (export: types, since, filters, elements, patients; import: inputs).
    parameters       jsonb       NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- Export: the snapshot every file reads, and its instant.
    transaction_time timestamptz,
    snapshot         text,
    snapshot_max_key bigint,
    cursor           jsonb       NOT NULL DEFAULT '{}',
    done_count       bigint      NOT NULL DEFAULT 0,
    total_estimate   bigint,
    worker           text,
    heartbeat_at     timestamptz,
    attempts         integer     NOT NULL DEFAULT 0,
    -- A failed job's reason (no PHI: codes and counts only).
    error            text,
    completed_at     timestamptz,
    -- Completed jobs and their files are deleted after this instant.
    expires_at       timestamptz
);
CREATE INDEX bulk_job_claimable ON bulk_job (created_at) WHERE status IN ('queued', 'running');
CREATE INDEX bulk_job_owner ON bulk_job (owner_subject, created_at);

-- A job's files: export output per type, `deleted` Bundles, and error OperationOutcomes.
CREATE TABLE bulk_file (
    job_id     uuid    NOT NULL REFERENCES bulk_job (id) ON DELETE CASCADE,
    file_no    integer NOT NULL,
    kind       text    NOT NULL CHECK (kind IN ('output', 'deleted', 'error', 'input')),
    type       text    NOT NULL,
    count      bigint  NOT NULL DEFAULT 0,
    -- Uncompressed NDJSON bytes.
    byte_count bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, file_no)
);

-- A file's content: each chunk is one gzip member of whole NDJSON lines, sealed (AES-GCM) under
-- `key_id` with associated data naming job, file and chunk, so chunks cannot be swapped.
CREATE TABLE bulk_chunk (
    job_id   uuid    NOT NULL,
    file_no  integer NOT NULL,
    chunk_no integer NOT NULL,
    key_id   text    NOT NULL,
    data     bytea   NOT NULL,
    PRIMARY KEY (job_id, file_no, chunk_no),
    FOREIGN KEY (job_id, file_no) REFERENCES bulk_file (job_id, file_no) ON DELETE CASCADE
);
-- Sealed gzip does not compress: skip TOAST's attempt.
ALTER TABLE bulk_chunk ALTER COLUMN data SET STORAGE EXTERNAL;
