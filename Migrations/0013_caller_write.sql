-- Read-your-writes with a read replica (MEDREC_DATABASE_READ_URL, ReadReplica): a count per caller
-- ("user:<id>" or "client:<id>", never a name), bumped in the transaction of each resource write
-- the caller makes while a replica is configured. A search goes to the replica only when the
-- replica's count for the caller has reached the primary's: the bump committed with the write, so
-- the replica has then replayed the write too. Shared by every medrec process through the database.
CREATE TABLE caller_write (
    caller text PRIMARY KEY,
    seq bigint NOT NULL
);
