-- A patient's history, newest first (issue 17): `Observation?patient=X&_sort=-date` and the
-- chart's other sorted sections read one patient's resources in date order. Without this table
-- the page computed the sort key of every match (a patient with 3,000 observations: 3,000 probes
-- of `search_date` and of `resource`, 27–35 ms, before the first row came back). Here each
-- (patient, date parameter, resource) has one row holding the resource's descending sort value,
-- and the index below hands them out newest first: a page reads `count + 1` rows off it, checks
-- each against the rest of the search, and stops (SearchSQL.patientDatePageStatement).
--
-- `newest` is exactly the value `_sort=-date` sorts by (SearchSQL.pageStatement): the latest of
-- the parameter's `search_date` rows for the resource, an open end (stored as the year 4001)
-- replaced by its known start. Cursors made on either path page on either.
--
-- The rows are derived, never written by the application: the triggers below keep them equal to
-- `search_date` ⋈ `resource_patient` whatever path writes those (creates, updates, transactions,
-- bulk import, the reindexer, deletes), so no writer can forget them. Statement-level triggers
-- with transition tables: one set-based statement per write statement, not one per row.
CREATE TABLE search_patient_date (
    patient_id   text        NOT NULL,
    param        bigint      NOT NULL,
    newest       timestamptz NOT NULL,
    resource_key bigint      NOT NULL
);
CREATE UNIQUE INDEX search_patient_date_key ON search_patient_date (resource_key, param, patient_id);
CREATE INDEX search_patient_date_newest ON search_patient_date (patient_id, param, newest DESC, resource_key);

-- Rows added to either side: the new pairs, each with its latest value. Within one statement both
-- triggers may see the same pairs (the resource and its compartment inserted together); the
-- second finds them present with the same value and writes nothing.
CREATE FUNCTION search_patient_date_dates_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_patient_date (patient_id, param, newest, resource_key)
    SELECT p.patient_id, d.param,
        max(CASE WHEN d.high >= '4000-01-01T00:00:00Z' THEN d.low ELSE d.high END), d.resource_key
    FROM added d JOIN resource_patient p ON p.resource_key = d.resource_key
    GROUP BY p.patient_id, d.param, d.resource_key
    ON CONFLICT (resource_key, param, patient_id) DO UPDATE SET newest = excluded.newest
        WHERE search_patient_date.newest < excluded.newest;
    RETURN NULL;
END
$$;

CREATE FUNCTION search_patient_date_patients_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_patient_date (patient_id, param, newest, resource_key)
    SELECT p.patient_id, d.param,
        max(CASE WHEN d.high >= '4000-01-01T00:00:00Z' THEN d.low ELSE d.high END), d.resource_key
    FROM added p JOIN search_date d ON d.resource_key = p.resource_key
    GROUP BY p.patient_id, d.param, d.resource_key
    ON CONFLICT (resource_key, param, patient_id) DO UPDATE SET newest = excluded.newest
        WHERE search_patient_date.newest < excluded.newest;
    RETURN NULL;
END
$$;

-- Rows removed from either side: the touched resources' rows are recomputed from what remains,
-- so the outcome does not depend on the order in which a statement's triggers fire (the
-- reindexer deletes and inserts a resource's rows in one statement).
CREATE FUNCTION search_patient_date_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM search_patient_date s USING (SELECT DISTINCT resource_key FROM removed) r
    WHERE s.resource_key = r.resource_key;
    INSERT INTO search_patient_date (patient_id, param, newest, resource_key)
    SELECT p.patient_id, d.param,
        max(CASE WHEN d.high >= '4000-01-01T00:00:00Z' THEN d.low ELSE d.high END), d.resource_key
    FROM (SELECT DISTINCT resource_key FROM removed) r
    JOIN search_date d ON d.resource_key = r.resource_key
    JOIN resource_patient p ON p.resource_key = r.resource_key
    GROUP BY p.patient_id, d.param, d.resource_key
    ON CONFLICT (resource_key, param, patient_id) DO UPDATE SET newest = excluded.newest;
    RETURN NULL;
END
$$;

CREATE TRIGGER search_patient_date_dates_added AFTER INSERT ON search_date
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION search_patient_date_dates_added();
CREATE TRIGGER search_patient_date_patients_added AFTER INSERT ON resource_patient
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION search_patient_date_patients_added();
CREATE TRIGGER search_patient_date_dates_removed AFTER DELETE ON search_date
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION search_patient_date_removed();
CREATE TRIGGER search_patient_date_patients_removed AFTER DELETE ON resource_patient
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION search_patient_date_removed();

-- The rows for what is already stored.
INSERT INTO search_patient_date (patient_id, param, newest, resource_key)
SELECT p.patient_id, d.param,
    max(CASE WHEN d.high >= '4000-01-01T00:00:00Z' THEN d.low ELSE d.high END), d.resource_key
FROM search_date d JOIN resource_patient p ON p.resource_key = d.resource_key
GROUP BY p.patient_id, d.param, d.resource_key;
