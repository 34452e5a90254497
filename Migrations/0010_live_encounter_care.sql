-- Care relationships from Encounters last as long as the appointment (CareRelationship.extract):
-- a cancelled or entered-in-error Encounter establishes none, so cancelling an appointment ends
-- the access it gave. Writes from this version on keep that rule; this removes the rows that
-- older writes left for Encounters already in one of those states. `status` is never sealed.
-- Authorship rows (kind 'author') stay: who wrote in a patient's record does not change.
DELETE FROM care_relationship cr
USING resource r
WHERE cr.resource_key = r.resource_key
  AND cr.kind = 'encounter'
  AND r.type = 'Encounter'
  AND r.content ->> 'status' IN ('cancelled', 'entered-in-error');
