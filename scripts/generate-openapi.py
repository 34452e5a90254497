#!/usr/bin/env python3
"""Writes Sources/Server/Resources/openapi.json, the OpenAPI 3.1 description of the platform API.

The six platform collections share one shape (list, read, create, update, delete), so the
document is generated from the tables below rather than written by hand: one place per fact,
and the 30 operations cannot drift apart. The contract is the platform spec (models, fields,
routes, errors); the auth routes follow Sources/Server/Identity/AuthController.swift.

    python3 scripts/generate-openapi.py          # rewrites Sources/Server/Resources/openapi.json
    python3 scripts/generate-openapi.py --check  # exits 1 if Sources/Server/Resources/openapi.json is not current

Then `python3 scripts/render-api-docs.py` regenerates Sources/Server/Resources/api.html and
`python3 scripts/check-openapi.py` validates both.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "Sources" / "Server" / "Resources" / "openapi.json"

EXT = "https://medical-records.example/fhir/StructureDefinition/"
# The server's version (CapabilityStatement.software.version), so both faces name the same release.
VERSION = "0.1.0"

# Obviously fake sample data, shared by every example so that ids line up across operations.
PATIENT_ID = "3f9a7c52-1e4b-4d8a-9b6e-2c7d1a0e5f31"
DOCTOR_ID = "a1c4e6f8-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
APPOINTMENT_ID = "7e2d9b14-6c3a-4f58-b1e0-9d8c7b6a5f42"
RECORD_ID = "c5b8a2d1-9e7f-4a63-8b2c-1d0e9f8a7b6c"
PRESCRIPTION_ID = "e8f7d6c5-b4a3-4921-8f0e-d1c2b3a4f5e6"
BILLING_ID = "2b4d6f80-1a3c-4e5f-9a7b-8c9d0e1f2a3b"
USER_ID = "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a"
CURSOR = "eyJrIjoxMjM0NSwidCI6IlBhdGllbnQifQ"
ACCESS_TOKEN = (
    "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImV4YW1wbGUta2lkIn0"
    ".eyJzdWIiOiIwZDFlMmYzYS00YjVjLTRkNmUtOGY3YS05YjBjMWQyZTNmNGEiLCJyb2xlIjoicGF0aWVudCJ9"
    ".ZmFrZS1zaWduYXR1cmUtZm9yLWRvY3VtZW50YXRpb24tb25seQ"
)
REFRESH_TOKEN = "Zm9yLWRvY3VtZW50YXRpb24tb25seS1ub3QtYS10b2tlbg"
NEXT_REFRESH_TOKEN = "YW5vdGhlci1mYWtlLXJlZnJlc2gtdG9rZW4tZXhhbXBsZQ"

# ----------------------------------------------------------------------------------------------
# Schema helpers

FHIR_ID_PATTERN = r"^[A-Za-z0-9\-.]{1,64}$"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATE_TIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"


def ref(name, **extra):
    return {"$ref": f"#/components/schemas/{name}", **extra}


def text(description, max_length=None):
    schema = {"type": "string", "minLength": 1, "description": description}
    if max_length:
        schema["maxLength"] = max_length
    return schema


def read_only_id(fhir_type):
    return {
        "type": "string", "pattern": FHIR_ID_PATTERN, "readOnly": True,
        "description": f"The FHIR id, set by the server: the same record is `GET /fhir/{fhir_type}/{{id}}`. "
                       "Ignored when present in a request body.",
    }


def reference_id(fhir_type, description):
    return {"type": "string", "pattern": FHIR_ID_PATTERN,
            "description": f"{description} Must name an existing {fhir_type} (else 422 `unknown_reference`)."}


def date(description):
    return {"type": "string", "format": "date", "pattern": DATE_PATTERN, "description": description}


def date_time(description, read_only=False):
    schema = {"type": "string", "format": "date-time", "pattern": DATE_TIME_PATTERN, "description": description}
    if read_only:
        schema["readOnly"] = True
    return schema


def date_or_date_time(description):
    return ref("DateOrDateTime", description=description)


def string_list(description):
    return {"type": "array", "items": {"type": "string", "minLength": 1}, "description": description}


FOREIGN_NOTE = (" `required` lists what a request body must carry; a record written through the FHIR face by "
                "another system may lack any field on read.")


def obj(description, properties, required=(), fhir=None, title=None):
    schema = {"type": "object"}
    if title:
        schema["title"] = title
    schema["description"] = description + (FOREIGN_NOTE if fhir else "")
    if fhir:
        schema["x-fhir-resource"] = fhir
    if required:
        schema["required"] = list(required)
    schema["properties"] = properties
    schema["additionalProperties"] = False
    return schema


# ----------------------------------------------------------------------------------------------
# Models

ADDRESS = obj(
    "A postal address. FHIR: the first `address` with `use` = `home`, else the first `address`.",
    {
        "line": string_list("Street lines, in order. FHIR: `address.line`."),
        "city": text("FHIR: `address.city`."),
        "state": text("FHIR: `address.state`."),
        "postalCode": text("FHIR: `address.postalCode`."),
        "country": text("FHIR: `address.country`."),
    },
)

CONTACT = obj(
    "Ways to reach a person. FHIR: `telecom`.",
    {
        "phone": text("FHIR: the first `telecom` with `system` = `phone`."),
        "email": text("FHIR: the first `telecom` with `system` = `email`."),
        "other": string_list(
            "Every other telecom value, in order: systems `other`, `fax`, `pager`, `url`, `sms`, and the phones "
            "and emails after the first. Entries added here are written with `system` = `other`."),
    },
)

INSURANCE = obj(
    f"The patient's insurance. FHIR: the complex extension `{EXT}patient-insurance` on Patient, with "
    "sub-extensions `provider`, `policyNumber` and `coverageDetails` (each `valueString`).",
    {
        "provider": text("The insurer's name."),
        "policyNumber": text("The policy or member number."),
        "coverageDetails": text("What the policy covers, as free text."),
    },
)

PATIENT = obj(
    "A patient. Stored as a FHIR Patient.",
    {
        "id": read_only_id("Patient"),
        "firstName": text("Given name. FHIR: `given[0]` of the first `official` name, else of the first name.", 100),
        "lastName": text("Family name. FHIR: `family` of the same name.", 100),
        "dateOfBirth": date("Not in the future. FHIR: `birthDate`."),
        "gender": {"type": "string", "enum": ["male", "female", "other", "unknown"],
                   "description": "FHIR: `gender` (same codes)."},
        "address": ref("Address"),
        "contact": ref("Contact"),
        "insurance": ref("Insurance"),
    },
    required=["firstName", "lastName", "dateOfBirth", "gender"], fhir="Patient",
)

WORK_SCHEDULE = obj(
    f"One recurring slot of a doctor's week. FHIR: one `{EXT}work-schedule` extension per entry, shaped like "
    "`PractitionerRole.availableTime`: sub-extensions `daysOfWeek` (`valueCode`, repeated), `availableStartTime` "
    "and `availableEndTime` (`valueTime`, stored as `HH:MM:SS`).",
    {
        "daysOfWeek": {"type": "array", "minItems": 1,
                       "items": {"type": "string", "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
                       "description": "The days this slot applies to (at least one)."},
        "startTime": ref("Time", description="Start of the slot (`HH:MM` or `HH:MM:SS`)."),
        "endTime": ref("Time", description="End of the slot; must be after `startTime`."),
    },
    required=["daysOfWeek", "startTime", "endTime"],
)

DOCTOR = obj(
    "A doctor. Stored as a FHIR Practitioner. A doctor account (`POST /auth/register` with role `doctor`) "
    "creates one; so can `POST /doctors`.",
    {
        "id": read_only_id("Practitioner"),
        "firstName": text("Given name. FHIR: `given[0]` of the first `official` name, else of the first name.", 100),
        "lastName": text("Family name. FHIR: `family` of the same name.", 100),
        "specialization": text(
            f"FHIR: the `qualification` entry carrying extension `{EXT}qualification-role` with `valueCode` "
            "`specialization`; the text is its `code.text`."),
        "qualifications": string_list(
            "FHIR: the other `qualification` entries, one per item, as `code.text` (on read also "
            "`code.coding[0].display`, else `code.coding[0].code`)."),
        "contact": ref("Contact"),
        "workSchedule": {"type": "array", "items": ref("WorkSchedule"), "description": "When the doctor works."},
    },
    required=["firstName", "lastName"], fhir="Practitioner",
)

APPOINTMENT = obj(
    "An appointment between a patient and a doctor. Stored as a FHIR Encounter; new Encounters get "
    "`class` = v3-ActCode `AMB` (ambulatory), which FHIR requires.",
    {
        "id": read_only_id("Encounter"),
        "patientId": reference_id("Patient", "The patient. FHIR: `subject` = `Patient/{patientId}`."),
        "doctorId": reference_id(
            "Practitioner",
            "The doctor. FHIR: `participant[0].individual` = `Practitioner/{doctorId}` (on read: the first "
            "participant whose individual is a Practitioner)."),
        "dateTime": date_time("When the appointment starts. FHIR: `period.start`."),
        "reasonForVisit": text("FHIR: `reasonCode[0].text` (on read also `reasonCode[0].coding[0].display`)."),
        "status": {
            "type": "string", "enum": ["scheduled", "completed", "canceled"],
            "description": "FHIR: `status`: `scheduled` = `planned`, `completed` = `finished`, `canceled` = "
                           "`cancelled`. On read, `arrived`, `triaged`, `in-progress` and `onleave` read as "
                           "`scheduled`; `entered-in-error` and `unknown` leave `status` absent.",
        },
        "notes": text(f"FHIR: extension `{EXT}appointment-notes` (`valueString`)."),
    },
    required=["patientId", "doctorId", "dateTime", "status"], fhir="Encounter",
)

RECORD_ITEM = obj(
    f"One entry of a medical-record list (a procedure, a test result, an allergy...). FHIR: one `{EXT}record-item` "
    "extension on the list's section, sub-extensions `description`, `date` and `code` (each `valueString`, "
    "the date as given), plus a generated narrative `<ul>` so that the section satisfies cmp-1.",
    {
        "description": text("What it is, in words."),
        "date": date_or_date_time("When it happened: a date or a date-time, kept as given."),
        "code": text("A code for it in any system the practice uses (e.g. a SNOMED CT or LOINC code), as text."),
    },
    required=["description"],
)

SECTIONS = [
    ("diagnosis", "29548-5", None), ("treatment", "18776-5", None), ("procedures", "47519-4", "list"),
    ("prescriptions", "10160-0", "list"), ("testResults", "30954-2", "list"), ("allergies", "48765-2", "list"),
    ("immunizations", "11369-6", "list"), ("notes", "48767-8", None),
]


def record_section(name, loinc, kind):
    if kind == "list":
        return {"type": "array", "items": ref("RecordItem"),
                "description": f"FHIR: the section with LOINC code `{loinc}`, one `record-item` extension per entry."}
    return text(f"FHIR: the narrative (`section.text`, status `generated`) of the section with LOINC code `{loinc}`; "
                "stored as escaped XHTML in a `<div>`, read back as plain text (tags stripped from foreign XHTML).")


MEDICAL_RECORD = obj(
    "A medical record of one patient, written by a doctor. Stored as a FHIR Composition (status `final`, type "
    "LOINC `11503-0` \"Medical records\", title \"Medical record\"), one section per field. The author is the "
    "calling doctor's Practitioner (`Composition.author`), set by the server.",
    {
        "id": read_only_id("Composition"),
        "patientId": reference_id("Patient", "The patient. FHIR: `subject` = `Patient/{patientId}`."),
        "createdAt": date_time("When the record was created. FHIR: `Composition.date`, set by the server on create.",
                               read_only=True),
        "updatedAt": date_time("When the record last changed. FHIR: `meta.lastUpdated`.", read_only=True),
        **{name: record_section(name, loinc, kind) for name, loinc, kind in SECTIONS},
    },
    required=["patientId"], fhir="Composition",
)

PRESCRIPTION = obj(
    "A prescription. Stored as a FHIR MedicationRequest; new ones get `status` `active` and `intent` `order`.",
    {
        "id": read_only_id("MedicationRequest"),
        "patientId": reference_id("Patient", "The patient. FHIR: `subject` = `Patient/{patientId}`."),
        "doctorId": reference_id("Practitioner", "The prescriber. FHIR: `requester` = `Practitioner/{doctorId}`."),
        "dateIssued": date_or_date_time("FHIR: `authoredOn`."),
        "medication": text("FHIR: `medicationCodeableConcept.text` (on read also `coding[0].display`)."),
        "dosage": text("FHIR: `dosageInstruction[0].text`."),
        "instructions": text("FHIR: `dosageInstruction[0].patientInstruction`."),
        "refills": {"type": "integer", "minimum": 0, "maximum": 1000,
                    "description": "FHIR: `dispenseRequest.numberOfRepeatsAllowed`."},
    },
    required=["patientId", "doctorId", "dateIssued", "medication"], fhir="MedicationRequest",
)

MONEY = obj(
    "An amount of money. The value is a decimal **string**, never a JSON number, so that no binary rounding "
    "touches it. FHIR: `Money` (`value` as a FHIR decimal with the same digits, `currency`).",
    {
        "value": {"type": "string", "pattern": r"^(0|[1-9]\d{0,11})(\.\d{1,4})?$",
                  "description": "Up to 12 integer digits (no leading zero) and 4 decimals, no sign, no exponent."},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code, e.g. `USD`, `EUR`."},
    },
    required=["value", "currency"],
)

BILLING = obj(
    "A bill for an appointment. Stored as a FHIR Claim; new Claims get `status` `active`, type `professional`, "
    "`use` `claim`, priority `normal`, `provider` (the appointment's doctor when known, else "
    "`{display: \"medical-records\"}`), one focal `insurance` entry (coverage display: the patient's insurance "
    "provider, else `self-pay`) and `item[0]` (\"Appointment\", linked to the encounter). The three amounts "
    "share one currency, and `outstandingAmount` must equal `amount` − `insuranceCoverage` exactly.",
    {
        "id": read_only_id("Claim"),
        "patientId": reference_id("Patient", "The patient billed. FHIR: `patient` = `Patient/{patientId}`."),
        "appointmentId": reference_id("Encounter",
                                      "The appointment billed. FHIR: `item[0].encounter[0]` = `Encounter/{appointmentId}`."),
        "date": date_or_date_time("When the bill was issued. FHIR: `created`."),
        "amount": ref("Money", description="The total. FHIR: `total`."),
        "insuranceCoverage": ref("Money", description=f"What insurance pays; at most `amount`. FHIR: extension "
                                                      f"`{EXT}claim-insurance-coverage` (`valueMoney`)."),
        "outstandingAmount": ref("Money", description=f"What the patient owes: exactly `amount` − "
                                                      f"`insuranceCoverage`. FHIR: extension "
                                                      f"`{EXT}claim-outstanding-amount` (`valueMoney`)."),
        "status": {"type": "string", "enum": ["paid", "pending"],
                   "description": f"Payment status. FHIR: extension `{EXT}claim-payment-status` (`valueCode`)."},
    },
    required=["patientId", "date", "amount", "insuranceCoverage", "outstandingAmount", "status"], fhir="Claim",
)

# ----------------------------------------------------------------------------------------------
# Example records (responses carry id; request bodies never do)

PATIENT_EXAMPLE = {
    "id": PATIENT_ID, "firstName": "Jane", "lastName": "Doe", "dateOfBirth": "1985-04-12", "gender": "female",
    "address": {"line": ["123 Example Street", "Apt 4"], "city": "Springfield", "state": "IL",
                "postalCode": "62701", "country": "US"},
    "contact": {"phone": "+1-555-0100", "email": "jane.doe@example.org", "other": ["+1-555-0199"]},
    "insurance": {"provider": "Example Health Insurance", "policyNumber": "EX-000-123",
                  "coverageDetails": "80% of outpatient visits"},
}
PATIENT_UPDATE = {**{k: v for k, v in PATIENT_EXAMPLE.items() if k != "id"},
                  "address": {"line": ["456 Sample Avenue"], "city": "Springfield", "state": "IL",
                              "postalCode": "62704", "country": "US"}}
PATIENT_UPDATE.pop("insurance")

DOCTOR_EXAMPLE = {
    "id": DOCTOR_ID, "firstName": "John", "lastName": "Roe", "specialization": "Cardiology",
    "qualifications": ["MD", "Board certified in internal medicine"],
    "contact": {"phone": "+1-555-0142", "email": "john.roe@example.org"},
    "workSchedule": [{"daysOfWeek": ["mon", "tue", "thu"], "startTime": "09:00:00", "endTime": "17:00:00"},
                     {"daysOfWeek": ["fri"], "startTime": "09:00:00", "endTime": "12:30:00"}],
}
DOCTOR_UPDATE = {**{k: v for k, v in DOCTOR_EXAMPLE.items() if k != "id"},
                 "workSchedule": [{"daysOfWeek": ["mon", "wed"], "startTime": "08:30", "endTime": "16:00"}]}

APPOINTMENT_EXAMPLE = {
    "id": APPOINTMENT_ID, "patientId": PATIENT_ID, "doctorId": DOCTOR_ID, "dateTime": "2026-12-03T09:30:00Z",
    "reasonForVisit": "Follow-up of blood pressure", "status": "scheduled",
    "notes": "Bring the home blood-pressure log.",
}
APPOINTMENT_UPDATE = {**{k: v for k, v in APPOINTMENT_EXAMPLE.items() if k != "id"}, "status": "completed",
                      "notes": "Blood pressure well controlled."}

RECORD_EXAMPLE = {
    "id": RECORD_ID, "patientId": PATIENT_ID, "createdAt": "2026-12-03T10:05:00Z", "updatedAt": "2026-12-03T10:05:00Z",
    "diagnosis": "Essential hypertension, well controlled.",
    "treatment": "Continue current medication; reduce salt intake.",
    "procedures": [{"description": "Resting electrocardiogram", "date": "2026-12-03", "code": "29303009"}],
    "prescriptions": [{"description": "Lisinopril 10 mg once daily", "date": "2026-12-03"}],
    "testResults": [{"description": "Blood pressure 128/82 mmHg", "date": "2026-12-03T09:40:00Z", "code": "85354-9"}],
    "allergies": [{"description": "Penicillin: rash", "code": "91936005"}],
    "immunizations": [{"description": "Influenza vaccine", "date": "2026-10-01"}],
    "notes": "Next check in three months.",
}
RECORD_CREATE = {k: v for k, v in RECORD_EXAMPLE.items() if k not in ("id", "createdAt", "updatedAt")}
RECORD_UPDATE = {**RECORD_CREATE, "notes": "Next check in six weeks: home readings were higher."}

PRESCRIPTION_EXAMPLE = {
    "id": PRESCRIPTION_ID, "patientId": PATIENT_ID, "doctorId": DOCTOR_ID, "dateIssued": "2026-12-03",
    "medication": "Lisinopril 10 mg tablet", "dosage": "10 mg once daily",
    "instructions": "Take in the morning, with or without food.", "refills": 3,
}
PRESCRIPTION_UPDATE = {**{k: v for k, v in PRESCRIPTION_EXAMPLE.items() if k != "id"}, "refills": 5}

BILLING_EXAMPLE = {
    "id": BILLING_ID, "patientId": PATIENT_ID, "appointmentId": APPOINTMENT_ID, "date": "2026-12-03",
    "amount": {"value": "150.00", "currency": "USD"},
    "insuranceCoverage": {"value": "120.00", "currency": "USD"},
    "outstandingAmount": {"value": "30.00", "currency": "USD"}, "status": "pending",
}
BILLING_UPDATE = {**{k: v for k, v in BILLING_EXAMPLE.items() if k != "id"}, "status": "paid"}


def without_id(example):
    return {k: v for k, v in example.items() if k not in ("id", "createdAt", "updatedAt")}


# ----------------------------------------------------------------------------------------------
# Collections

def p(name):
    return {"$ref": f"#/components/parameters/{name}"}


COLLECTIONS = [
    {
        "path": "patients", "model": "Patient", "plural": "Patients", "tag": "Patients", "fhir": "Patient",
        "schema": PATIENT, "example": PATIENT_EXAMPLE, "update": PATIENT_UPDATE,
        "filters": [p("NameFilter"), p("DateOfBirthFilter")],
        "access": "Patients read and update their own record (not create or delete). Doctors read, update and "
                  "delete the patients they care for (others only with `X-Break-Glass`) and create patients "
                  "(creating one makes them its doctor). Billing staff read patients. Admins have no access. System clients: their "
                  "`system/Patient` scopes.",
        "delete": "Deletes the FHIR Patient (soft: its history is kept and `GET /fhir/Patient/{id}` then answers "
                  "410 Gone). Records that point at the patient are not deleted.",
        "update_note": "The example moves Jane Doe and leaves `insurance` out, which removes the insurance "
                       "extension; her other FHIR names, identifiers and telecoms are kept.",
    },
    {
        "path": "doctors", "model": "Doctor", "plural": "Doctors", "tag": "Doctors", "fhir": "Practitioner",
        "schema": DOCTOR, "example": DOCTOR_EXAMPLE, "update": DOCTOR_UPDATE,
        "filters": [p("NameFilter")],
        "access": "The doctor directory: every signed-in user reads and lists it. Patients and billing staff "
                  "get the directory view: names, specialization, qualifications and working hours, without "
                  "`contact` (on the FHIR face the Practitioner is marked `meta.tag` SUBSETTED and has no telecom, "
                  "address, birth date, gender, photo or identifiers). Doctors, admins and system clients read the "
                  "whole record. Admins create, update and delete doctors; a doctor updates their own. Doctor "
                  "accounts come from `POST /auth/register` and an admin's approval; `POST /doctors` adds a doctor "
                  "without an account. System clients: their `system/Practitioner` scopes.",
        "delete": "Deletes the FHIR Practitioner (soft: its history is kept). Appointments and prescriptions "
                  "that name the doctor are not deleted.",
        "update_note": "The example replaces the work schedule; times sent as `HH:MM` are stored as `HH:MM:SS`.",
    },
    {
        "path": "appointments", "model": "Appointment", "plural": "Appointments", "tag": "Appointments",
        "fhir": "Encounter", "schema": APPOINTMENT, "example": APPOINTMENT_EXAMPLE, "update": APPOINTMENT_UPDATE,
        "filters": [p("PatientIdFilter"), p("DoctorIdFilter"), p("AppointmentStatusFilter"), p("FromFilter"),
                    p("ToFilter")],
        "access": "Patients read their own appointments, book them (with themselves as `patientId`, status "
                  "`scheduled`, and a time in the doctor's working hours that no other appointment of the doctor "
                  "overlaps; a platform appointment takes 30 minutes) and cancel them (`DELETE`); a PUT "
                  "by a patient may only cancel. Doctors read and write the appointments of the patients they care "
                  "for. An appointment that is not canceled makes its doctor the patient's doctor for as long as "
                  "it stands. System clients: their `system/Encounter` scopes.",
        "delete": None,
        "update_note": "The example marks the visit completed and rewrites its notes.",
    },
    {
        "path": "medical-records", "model": "MedicalRecord", "plural": "MedicalRecords", "tag": "Medical records",
        "fhir": "Composition", "schema": MEDICAL_RECORD, "example": RECORD_EXAMPLE, "update": RECORD_UPDATE,
        "create": RECORD_CREATE, "filters": [p("PatientIdFilter")],
        "access": "Patients read their own records. Doctors read and write the records of the patients they care "
                  "for (others only with `X-Break-Glass`); the author of a new record is the calling doctor. "
                  "System clients: their `system/Composition` scopes.",
        "delete": "Deletes the FHIR Composition (soft: its history is kept).",
        "update_note": "The example changes the notes; every list is sent again, since a list left out is cleared.",
    },
    {
        "path": "prescriptions", "model": "Prescription", "plural": "Prescriptions", "tag": "Prescriptions",
        "fhir": "MedicationRequest", "schema": PRESCRIPTION, "example": PRESCRIPTION_EXAMPLE,
        "update": PRESCRIPTION_UPDATE, "filters": [p("PatientIdFilter")],
        "access": "Patients read their own prescriptions. Doctors read and write those of the patients they care "
                  "for. System clients: their `system/MedicationRequest` scopes.",
        "delete": "Deletes the FHIR MedicationRequest (soft: its history is kept).",
        "update_note": "The example allows two more refills.",
    },
    {
        "path": "billings", "model": "Billing", "plural": "Billings", "tag": "Billings", "fhir": "Claim",
        "schema": BILLING, "example": BILLING_EXAMPLE, "update": BILLING_UPDATE, "filters": [p("PatientIdFilter")],
        "access": "Billing staff read and write every bill. Patients read their own. Doctors read and write the "
                  "bills of the patients they care for. System clients: their `system/Claim` scopes.",
        "delete": "Deletes the FHIR Claim (soft: its history is kept).",
        "update_note": "The example records that the bill was paid.",
    },
]

# ----------------------------------------------------------------------------------------------
# Errors


def error_example(summary, code, message, details=None):
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = [{"field": f, "issue": i} for f, i in details]
    return {"summary": summary, "value": body}


def error_response(description, examples, headers=None):
    response = {"description": description,
                "content": {"application/json": {"schema": ref("Error"), "examples": examples}}}
    if headers:
        response["headers"] = headers
    return response


ERROR_RESPONSES = {
    "InvalidBody": error_response(
        "The body is not acceptable: `validation_failed` lists every bad field at once (unknown members, "
        "missing or malformed fields, rules across fields); `malformed_json` when the body is not a JSON object.",
        {
            "validation_failed": error_example(
                "Several bad fields at once", "validation_failed", "the request is not valid",
                [("firstName", "is required"), ("dateOfBirth", "must not be in the future"),
                 ("gender", "must be male, female, other or unknown"), ("address.postalCode", "must be a string"),
                 ("contact.other[1]", "must not be empty"), ("nickname", "is not accepted here")]),
            "money_rules": error_example(
                "Rules across fields (a billing)", "validation_failed", "the request is not valid",
                [("outstandingAmount", "must equal amount minus insuranceCoverage"),
                 ("insuranceCoverage.currency", "must be the currency of amount"),
                 ("amount.value", "must be a decimal string such as \"150.00\"")]),
            "malformed_json": error_example(
                "Not JSON", "malformed_json", "the body is not valid JSON: unexpected end of JSON inside an object"),
        }),
    "BadParameter": error_response(
        "A query parameter is unknown or its value is not valid (`bad_parameter`).",
        {
            "bad_parameter": error_example(
                "Bad query parameters", "bad_parameter", "the query is not valid",
                [("limit", "must be an integer from 1 to 100"), ("sort", "is not accepted here")]),
            "bad_cursor": error_example(
                "A cursor this list did not issue", "bad_parameter", "the query is not valid",
                [("cursor", "is not a cursor of this list")]),
        }),
    "BadID": error_response(
        "The id in the path is not a FHIR id (1-64 letters, digits, `-` or `.`): `bad_parameter`.",
        {"bad_id": error_example("Not an id", "bad_parameter", "the id in the path is not valid",
                                 [("id", "must be 1-64 letters, digits, '-' or '.'")])}),
    "Unauthorized": error_response(
        "No bearer access token, or one that is not valid any more (expired, logged out, account disabled, "
        "client revoked). `WWW-Authenticate` says which.",
        {
            "missing": error_example("No token", "unauthorized", "a bearer access token is required"),
            "invalid": error_example("Expired or revoked token", "invalid_token", "the access token is not valid"),
        },
        headers={"WWW-Authenticate": {"$ref": "#/components/headers/WWW-Authenticate"}}),
    "Forbidden": error_response(
        "The token's role or scopes do not allow this action (for example a patient creating a prescription). "
        "A record the caller may not see is a 404, never a 403.",
        {"forbidden": error_example("Not permitted", "forbidden", "this create of MedicationRequest is not permitted")}),
    "NotFound": error_response(
        "No record with this id, or one the caller may not see (the two are answered alike).",
        {"not_found": error_example("Unknown or hidden id", "not_found", "no record exists at this path")}),
    "Conflict": error_response(
        "`If-Match` named a version that is not the current one: someone changed the record since it was read. "
        "Read it again (new ETag), reapply the change, retry. (The platform answers 409, never 412.)",
        {"conflict": error_example("Stale If-Match", "conflict", "the record has changed since the version in If-Match")}),
    "PayloadTooLarge": error_response(
        "The body is larger than the server accepts.",
        {"body_too_large": error_example("Too large", "body_too_large", "the request body is larger than the server accepts")}),
    "UnknownReference": error_response(
        "A reference in the body (`patientId`, `doctorId`, `appointmentId`) names no existing record "
        "(`unknown_reference`; the details name each field), or the resulting FHIR resource would not be valid "
        "(`invalid_resource`).",
        {
            "unknown_reference": error_example(
                "Unknown patient and doctor", "unknown_reference", "a referenced record does not exist",
                [("patientId", "no Patient with this id exists"), ("doctorId", "no Practitioner with this id exists")]),
        }),
}

# ----------------------------------------------------------------------------------------------
# Operations


def json_body(schema, examples, description=None, required=True):
    body = {"required": required, "content": {"application/json": {"schema": schema, "examples": examples}}}
    if description:
        body["description"] = description
    return body


def ok(description, schema, examples, headers=None):
    response = {"description": description, "content": {"application/json": {"schema": schema, "examples": examples}}}
    if headers:
        response["headers"] = headers
    return response


def r(name):
    return {"$ref": f"#/components/responses/{name}"}


def h(name):
    return {"$ref": f"#/components/headers/{name}"}


def collection_paths(c):
    model, plural, tag, path, fhir = c["model"], c["plural"], c["tag"], c["path"], c["fhir"]
    noun = tag.lower().rstrip("s") if tag != "Medical records" else "medical record"
    if tag == "Billings":
        noun = "billing"
    example = c["example"]
    create = c.get("create") or without_id(example)
    second = dict(example)
    second["id"] = {"Patient": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "Doctor": "4c3b2a19-0f8e-4d7c-9b6a-5f4e3d2c1b0a",
                    "Appointment": "6d5c4b3a-2f1e-4c0d-9a8b-7f6e5d4c3b2a", "MedicalRecord": "8f7e6d5c-4b3a-4291-8e0d-c1b2a3f4e5d6",
                    "Prescription": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "Billing": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"}[model]
    if model == "Patient":
        second.update({"firstName": "Janet", "dateOfBirth": "1990-07-30", "contact": {"email": "janet.doe@example.org"}})
        second.pop("insurance")
        second.pop("address")
    elif model == "Doctor":
        second.update({"firstName": "Joan", "specialization": "Dermatology", "qualifications": ["MD"]})
        second.pop("workSchedule")
    elif model == "Appointment":
        second.update({"dateTime": "2027-03-04T14:00:00+01:00", "reasonForVisit": "Three-month check"})
        second.pop("notes")
    elif model == "MedicalRecord":
        second = {"id": second["id"], "patientId": PATIENT_ID, "createdAt": "2026-09-14T08:12:44Z",
                  "updatedAt": "2026-09-14T08:12:44Z", "diagnosis": "Seasonal allergic rhinitis."}
    elif model == "Prescription":
        second.update({"dateIssued": "2026-09-14T08:20:00Z", "medication": "Cetirizine 10 mg tablet",
                       "dosage": "10 mg once daily", "refills": 0})
        second.pop("instructions")
    elif model == "Billing":
        second.update({"date": "2026-09-14", "amount": {"value": "80.00", "currency": "USD"},
                       "insuranceCoverage": {"value": "80.00", "currency": "USD"},
                       "outstandingAmount": {"value": "0.00", "currency": "USD"}, "status": "paid"})
        second.pop("appointmentId")
    updated = {"id": example["id"], **c["update"]}
    if model == "Doctor":
        updated["workSchedule"] = [{"daysOfWeek": ["mon", "wed"], "startTime": "08:30:00", "endTime": "16:00:00"}]
    if model == "MedicalRecord":
        updated = {**updated, "createdAt": example["createdAt"], "updatedAt": "2026-12-10T16:45:12Z"}
    list_schema = ref(f"{model}List")
    item = ref(model)
    id_param = {"name": "id", "in": "path", "required": True, "description": f"The {noun}'s id (the FHIR {fhir} id).",
                "schema": {"type": "string", "pattern": FHIR_ID_PATTERN}, "example": example["id"]}
    fhir_note = f"The same record is `GET /fhir/{fhir}/{{id}}`."
    list_filters = c["filters"]
    list_op = {
        "operationId": f"list{plural}", "tags": [tag], "summary": f"List {tag.lower()}",
        "description": f"The {tag.lower()} the caller may see, one page at a time: at most `limit` items, and "
                       f"`nextCursor` when there are more (pass it back as `cursor`, with the same filters). "
                       f"Records the caller may not see are left out, as on the FHIR face (a search of {fhir}). "
                       f"Unknown query parameters are a 400.",
        "parameters": [p("Limit"), p("Cursor"), *list_filters, p("BreakGlass")],
        "responses": {
            "200": ok("One page.", list_schema, {
                "page": {"summary": "A page with more after it", "value": {"items": [example, second], "nextCursor": CURSOR}},
                "last": {"summary": "The last (or only) page", "value": {"items": [second]}},
                "empty": {"summary": "Nothing matches", "value": {"items": []}},
            }),
            "400": r("BadParameter"), "401": r("Unauthorized"), "403": r("Forbidden"),
        },
    }
    create_op = {
        "operationId": f"create{model}", "tags": [tag], "summary": f"Create a {noun}",
        "description": f"Creates a FHIR {fhir} from the body and answers the stored {noun} with its id. "
                       f"`id`{', `createdAt` and `updatedAt`' if model == 'MedicalRecord' else ''} in the body "
                       f"are ignored; any other unknown member is a 400.",
        "parameters": [p("BreakGlass")],
        "requestBody": json_body(item, {"new": {"summary": f"A new {noun}", "value": create}}),
        "responses": {
            "201": ok(f"Created. {fhir_note}", item, {"created": {"summary": f"The stored {noun}", "value": example}},
                      headers={"Location": h("Location"), "ETag": h("ETag")}),
            "400": r("InvalidBody"), "401": r("Unauthorized"), "403": r("Forbidden"), "413": r("PayloadTooLarge"),
        },
    }
    if model != "Patient" and model != "Doctor":
        create_op["responses"]["422"] = r("UnknownReference")
    if model == "Appointment":
        create_op["description"] += (
            " A patient's booking is checked against the doctor's schedule: a time outside their working hours "
            "(`workSchedule`, in the server's schedule time zone) or over another of their appointments is a 409 "
            "(`slot_unavailable`); a time in the past is a 422 (`invalid_booking`).")
        create_op["responses"]["409"] = error_response(
            "A patient's booking: the doctor's schedule has no room at that time (`slot_unavailable`). Nothing is "
            "stored.",
            {"outside_hours": error_example("Outside working hours", "slot_unavailable",
                                            "the time is outside the doctor's working hours"),
             "taken": error_example("Slot taken", "slot_unavailable", "the doctor has another appointment at that time")})
        create_op["responses"]["422"] = error_response(
            "A reference names no record (`unknown_reference`), or a patient's booking cannot be checked "
            "(`invalid_booking`: a time in the past).",
            {"unknown_reference": error_example(
                "Unknown patient and doctor", "unknown_reference", "a referenced record does not exist",
                [("patientId", "no Patient with this id exists"), ("doctorId", "no Practitioner with this id exists")]),
             "invalid_booking": error_example(
                "A time in the past", "invalid_booking", "an appointment cannot be booked in the past",
                [("dateTime", "an appointment cannot be booked in the past")])})
    get_op = {
        "operationId": f"get{model}", "tags": [tag], "summary": f"Read a {noun}",
        "description": f"{fhir_note} The ETag is the FHIR version (`meta.versionId`): send it back as `If-Match` "
                       f"on a PUT to make sure nobody changed the record in between.",
        "parameters": [p("BreakGlass")],
        "responses": {
            "200": ok(f"The {noun}.", item, {"found": {"summary": f"A {noun}", "value": example}}, headers={"ETag": h("ETag")}),
            "400": r("BadID"), "401": r("Unauthorized"), "404": r("NotFound"),
        },
    }
    update_op = {
        "operationId": f"update{model}", "tags": [tag], "summary": f"Replace a {noun}",
        "description": f"The body is the whole {noun}: an optional field left out is cleared. Only the FHIR "
                       f"elements this model maps are touched; everything else on the FHIR {fhir} (identifiers, "
                       f"extensions, extra names, elements written by other systems) is kept, and mapped elements "
                       f"whose value did not change are kept as they were. {c['update_note']} "
                       f"With `If-Match`, a stale version is a 409 and nothing is written. An unknown id is a 404 "
                       f"(PUT does not create).",
        "parameters": [p("IfMatch"), p("BreakGlass")],
        "requestBody": json_body(item, {"replace": {"summary": f"The whole {noun}, changed", "value": c["update"]}}),
        "responses": {
            "200": ok(f"Updated. {fhir_note}", item, {"updated": {"summary": f"The stored {noun}", "value": updated}},
                      headers={"ETag": h("ETag")}),
            "400": r("InvalidBody"), "401": r("Unauthorized"), "403": r("Forbidden"), "404": r("NotFound"),
            "409": r("Conflict"), "413": r("PayloadTooLarge"),
        },
    }
    if model != "Patient" and model != "Doctor":
        update_op["responses"]["422"] = r("UnknownReference")
    if model == "Appointment":
        cancelled = {**example, "status": "canceled"}
        delete_op = {
            "operationId": "cancelAppointment", "tags": [tag], "summary": "Cancel an appointment",
            "description": "Cancels rather than deletes: the Encounter's status becomes `cancelled` and the "
                           "record is kept (it stays readable, on both faces, with status `canceled`).",
            "parameters": [p("BreakGlass")],
            "responses": {
                "200": ok("Canceled.", ref("AppointmentCancellation"), {"canceled": {
                    "summary": "Canceled, record kept",
                    "value": {"id": APPOINTMENT_ID, "status": "canceled",
                              "message": "the appointment was canceled; the record is kept", "appointment": cancelled}}},
                ),
                "400": r("BadID"), "401": r("Unauthorized"), "403": r("Forbidden"), "404": r("NotFound"),
            },
        }
    else:
        delete_op = {
            "operationId": f"delete{model}", "tags": [tag], "summary": f"Delete a {noun}",
            "description": c["delete"],
            "parameters": [p("BreakGlass")],
            "responses": {
                "204": {"description": "Deleted; no body."},
                "400": r("BadID"), "401": r("Unauthorized"), "403": r("Forbidden"), "404": r("NotFound"),
            },
        }
    return {
        f"/{path}": {"get": list_op, "post": create_op},
        f"/{path}/{{id}}": {"parameters": [id_param], "get": get_op, "put": update_op, "delete": delete_op},
    }


def list_schema(model, tag):
    return {
        "type": "object", "description": f"One page of {tag.lower()}.", "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": ref(model), "description": "At most `limit` records."},
            "nextCursor": {"type": "string", "minLength": 1,
                           "description": "Present when more records follow: pass it as `cursor` (with the same "
                                          "filters) for the next page. Opaque; absent on the last page."},
        },
        "additionalProperties": False,
    }


# ----------------------------------------------------------------------------------------------
# Auth

REGISTER_REQUEST = obj(
    "A self-registration: the account and what its record needs from the start. Field names are the platform "
    "models' (`Patient.dateOfBirth`, `Doctor.specialization`). A patient must give `dateOfBirth`; a doctor must "
    "give `specialization`; fields of the other role's record are refused by name, and so is any other member "
    "(no `status`, no `id`). Every bad field is reported at once.",
    {
        "email": {"type": "string", "minLength": 3, "maxLength": 254,
                  "description": "The login; compared after trimming, lower-casing and NFC normalization. Also "
                                 "written as the `email` telecom of the new resource."},
        "password": {"type": "string", "minLength": 12, "maxLength": 128,
                     "description": "12 to 128 characters, no composition rules; refused if common or equal to the email."},
        "role": {"type": "string", "enum": ["patient", "doctor"],
                 "description": "`patient` (active at once) or `doctor` (pending until an admin approves). Other "
                                "roles are granted by an administrator."},
        "firstName": text("Given name of the new Patient or Practitioner.", 100),
        "lastName": text("Family name of the new Patient or Practitioner.", 100),
        "dateOfBirth": date("Patients: required, a real date from 1850 on, not in the future. FHIR: the Patient's "
                            "`birthDate`."),
        "gender": {"type": "string", "enum": ["male", "female", "other", "unknown"],
                   "description": "Patients only. FHIR: the Patient's `gender`."},
        "phone": text("Written as the `phone` telecom of the new Patient or Practitioner.", 40),
        "address": {**ref("Address"), "description": "Patients only. FHIR: the Patient's home address."},
        "specialization": text("Doctors: required. FHIR: the Practitioner's `qualification` marked "
                               f"`{EXT}qualification-role` = `specialization`.", 200),
    },
    required=["email", "password", "role", "firstName", "lastName"],
)
REGISTER_REQUEST["allOf"] = [
    {"if": {"properties": {"role": {"const": "patient"}}, "required": ["role"]},
     "then": {"required": ["dateOfBirth"], "not": {"required": ["specialization"]}}},
    {"if": {"properties": {"role": {"const": "doctor"}}, "required": ["role"]},
     "then": {"required": ["specialization"],
              "not": {"anyOf": [{"required": ["dateOfBirth"]}, {"required": ["gender"]}, {"required": ["address"]}]}}},
]

REGISTERED = obj(
    "The new account.",
    {
        "id": {"type": "string", "description": "The account id (not the FHIR id)."},
        "email": {"type": "string", "description": "The email, normalized."},
        "role": {"type": "string", "enum": ["patient", "doctor"]},
        "status": {"type": "string", "enum": ["active", "pending"],
                   "description": "`active` for patients; `pending` for doctors until an admin approves."},
        "fhirUser": {"type": "string", "pattern": r"^(Patient|Practitioner)/[A-Za-z0-9\-.]{1,64}$",
                     "description": "The account's FHIR resource: `Patient/{id}` (the same id as `/patients/{id}`) "
                                    "or `Practitioner/{id}` (the same id as `/doctors/{id}`)."},
    },
    required=["id", "email", "role", "status", "fhirUser"],
)

LOGIN_REQUEST = {
    "type": "object", "description": "Credentials, and optionally fewer scopes than the role's ceiling.",
    "required": ["email", "password"],
    "properties": {
        "email": {"type": "string", "minLength": 1, "maxLength": 254},
        "password": {"type": "string", "minLength": 1, "maxLength": 1024},
        "scope": {"type": "string", "maxLength": 2048,
                  "description": "A space-separated SMART scope list; the grant is its intersection with the "
                                 "role's ceiling (patients `patient/*.cruds openid fhirUser offline_access`, staff "
                                 "`user/*.cruds openid fhirUser offline_access`)."},
    },
}

REFRESH_REQUEST = obj("A refresh token from a login or an earlier refresh.",
                      {"refreshToken": {"type": "string", "minLength": 1, "maxLength": 256}},
                      required=["refreshToken"])

TOKEN_PAIR = obj(
    "An access token and the refresh token that replaces it.",
    {
        "accessToken": {"type": "string", "description": "A JWT (`typ: at+jwt`, EdDSA). Send it as "
                                                         "`Authorization: Bearer <accessToken>`."},
        "refreshToken": {"type": "string", "description": "Opaque, single use: `POST /auth/refresh` spends it and "
                                                          "returns a new pair. Presenting a spent one again ends the "
                                                          "session."},
        "tokenType": {"type": "string", "const": "Bearer"},
        "expiresIn": {"type": "integer", "minimum": 1, "description": "Seconds the access token lives (default 900)."},
        "scope": {"type": "string", "description": "The SMART scopes granted, space-separated."},
    },
    required=["accessToken", "refreshToken", "tokenType", "expiresIn", "scope"],
)

ME = obj(
    "The caller, as the access token and the account say.",
    {
        "id": {"type": "string", "description": "The account id, or the client id for a system client."},
        "role": {"type": "string", "enum": ["patient", "doctor", "billing", "admin", "system"]},
        "scope": {"type": "string", "description": "The token's SMART scopes."},
        "email": {"type": "string", "description": "People only."},
        "status": {"type": "string", "enum": ["active", "pending", "disabled"], "description": "People only."},
        "fhirUser": {"type": "string", "description": "`Patient/{id}` or `Practitioner/{id}` when the account "
                                                      "has one; the id is also the platform id."},
    },
    required=["id", "role", "scope"],
)


def auth_paths():
    register_examples = {
        "patient": {"summary": "A patient", "value": {
            "email": "jane.doe@example.org", "password": "correct staple battery horse", "role": "patient",
            "firstName": "Jane", "lastName": "Doe", "dateOfBirth": "1985-04-12", "gender": "female",
            "phone": "+1-555-0100",
            "address": {"line": ["123 Example Street"], "city": "Springfield", "state": "IL", "postalCode": "62701",
                        "country": "US"}}},
        "doctor": {"summary": "A doctor (waits for approval)", "value": {
            "email": "john.roe@example.org", "password": "a long doctor passphrase", "role": "doctor",
            "firstName": "John", "lastName": "Roe", "specialization": "Cardiology", "phone": "+1-555-0111"}},
    }
    pair = {"accessToken": ACCESS_TOKEN, "refreshToken": REFRESH_TOKEN, "tokenType": "Bearer", "expiresIn": 900,
            "scope": "patient/*.cruds openid fhirUser offline_access"}
    login_invalid = error_response(
        "The email or the password is wrong; both cases get the same answer.",
        {"invalid_credentials": error_example("Wrong email or password", "invalid_credentials",
                                              "the email or password is incorrect")})
    login_forbidden = error_response(
        "The password was right but the account cannot log in yet, or any more.",
        {"account_pending": error_example("Doctor not yet approved", "account_pending",
                                          "the account is waiting for an administrator's approval"),
         "account_disabled": error_example("Disabled", "account_disabled", "the account is disabled")})
    throttled = error_response(
        "Too many failed logins for this email (5 in 15 minutes) or from this address: wait `Retry-After` "
        "seconds. Existing and unknown accounts are answered alike.",
        {"too_many_attempts": error_example("Locked for a while", "too_many_attempts",
                                            "too many failed logins; try again in 840 seconds")},
        headers={"Retry-After": h("Retry-After")})
    busy = error_response(
        "Too many password hashes are waiting; retry after `Retry-After` seconds.",
        {"busy": error_example("Busy", "busy", "too many logins at once; try again shortly")},
        headers={"Retry-After": h("Retry-After")})
    register_400 = error_response(
        "Every bad field at once (`validation_failed`), or a body that is not a JSON object (`malformed_json`).",
        {"validation_failed": error_example(
            "Several bad fields", "validation_failed", "the request is not valid",
            [("status", "is not accepted here"), ("firstName", "must not be empty"),
             ("email", "is not an email address"), ("password", "The password must have at least 12 characters."),
             ("dateOfBirth", "must be a past date YYYY-MM-DD"), ("specialization", "is accepted for doctors only")]),
         "wrong_role": error_example(
            "A role that cannot be registered", "validation_failed", "the request is not valid",
            [("role", "must be patient or doctor; other roles are granted by an administrator")]),
         "malformed_json": error_example("Not JSON", "malformed_json",
                                         "the body is not valid JSON: unexpected end of JSON inside an object")})
    simple_400 = error_response(
        "A required member is missing or not a string (`validation_failed`), or the body is not a JSON object "
        "(`malformed_json`).",
        {"validation_failed": error_example("Missing password", "validation_failed", "the request is not valid",
                                            [("password", "is required")]),
         "malformed_json": error_example("Not JSON", "malformed_json", "the body must be a JSON object")})
    public = []
    return {
        "/auth/register": {"post": {
            "operationId": "register", "tags": ["Authentication"], "summary": "Register a patient or a doctor",
            "description": "Creates an account and, in the same transaction, its FHIR resource: a Patient for a "
                           "patient (usable at once: log in next), a Practitioner for a doctor (who can log in once "
                           "an admin approves). Admin and billing accounts come from `medrec user add`.",
            "security": public,
            "requestBody": json_body(ref("RegisterRequest"), register_examples),
            "responses": {
                "201": ok("Registered.", ref("RegisteredAccount"), {
                    "patient": {"summary": "An active patient", "value": {
                        "id": USER_ID, "email": "jane.doe@example.org", "role": "patient", "status": "active",
                        "fhirUser": f"Patient/{PATIENT_ID}"}},
                    "doctor": {"summary": "A doctor waiting for approval", "value": {
                        "id": "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d", "email": "john.roe@example.org",
                        "role": "doctor", "status": "pending", "fhirUser": f"Practitioner/{DOCTOR_ID}"}}}),
                "400": register_400,
                "409": error_response("An account with this email exists.", {"email_taken": error_example(
                    "Email taken", "email_taken", "an account with this email already exists")}),
                "413": r("PayloadTooLarge"),
                "503": busy,
            },
        }},
        "/auth/login": {"post": {
            "operationId": "login", "tags": ["Authentication"], "summary": "Log in",
            "description": "Checks the password and opens a session: a short-lived access token (a JWT for "
                           "`Authorization: Bearer`) and a single-use refresh token.",
            "security": public,
            "requestBody": json_body(ref("LoginRequest"), {
                "login": {"summary": "Email and password", "value": {
                    "email": "jane.doe@example.org", "password": "correct staple battery horse"}},
                "narrower": {"summary": "Asking for fewer scopes", "value": {
                    "email": "jane.doe@example.org", "password": "correct staple battery horse",
                    "scope": "patient/*.rs openid fhirUser"}}}),
            "responses": {
                "200": ok("Logged in.", ref("TokenPair"), {"tokens": {"summary": "A new session", "value": pair}}),
                "400": simple_400, "401": login_invalid, "403": login_forbidden, "413": r("PayloadTooLarge"),
                "429": throttled, "503": busy,
            },
        }},
        "/auth/refresh": {"post": {
            "operationId": "refresh", "tags": ["Authentication"], "summary": "Get a new token pair",
            "description": "Spends the refresh token and returns a new access token and a new refresh token in "
                           "the same session, with the same scopes. A refresh token works once: presenting a spent "
                           "one again ends the whole session (someone holds a copy).",
            "security": public,
            "requestBody": json_body(ref("RefreshRequest"), {"refresh": {"summary": "The last refresh token",
                                                                       "value": {"refreshToken": REFRESH_TOKEN}}}),
            "responses": {
                "200": ok("A new pair; the old refresh token is spent.", ref("TokenPair"), {"tokens": {
                    "summary": "The next pair", "value": {**pair, "refreshToken": NEXT_REFRESH_TOKEN}}}),
                "400": simple_400,
                "401": error_response("The refresh token is unknown, spent, or its session ended.", {
                    "invalid_grant": error_example("Spent or unknown", "invalid_grant", "the refresh token is not valid")}),
                "413": r("PayloadTooLarge"),
            },
        }},
        "/auth/logout": {"post": {
            "operationId": "logout", "tags": ["Authentication"], "summary": "Log out",
            "description": "Ends the session at once: its refresh tokens and this access token stop working on "
                           "the next request, on every server process.",
            "responses": {"204": {"description": "Logged out; no body."}, "401": r("Unauthorized")},
        }},
        "/auth/me": {"get": {
            "operationId": "getCurrentUser", "tags": ["Authentication"], "summary": "Who am I",
            "description": "The caller's account (or system client), role, scopes and FHIR resource. A patient "
                           "finds their platform id here: `fhirUser` `Patient/{id}` is `/patients/{id}`.",
            "responses": {
                "200": ok("The caller.", ref("Me"), {
                    "patient": {"summary": "A patient", "value": {
                        "id": USER_ID, "role": "patient", "scope": "patient/*.cruds openid fhirUser offline_access",
                        "email": "jane.doe@example.org", "status": "active", "fhirUser": f"Patient/{PATIENT_ID}"}},
                    "system": {"summary": "A system client", "value": {
                        "id": "client-EXAMPLE0000000", "role": "system", "scope": "system/*.cruds"}}}),
                "401": r("Unauthorized"),
            },
        }},
    }


def document_paths():
    return {
        "/openapi.json": {"get": {
            "operationId": "getOpenAPIDocument", "tags": ["API documents"], "summary": "This document",
            "description": "The OpenAPI 3.1 description of the platform API (this document), as JSON. Public.",
            "security": [],
            "responses": {"200": {"description": "The document.", "content": {"application/json": {
                "schema": {"type": "object", "description": "An OpenAPI 3.1.0 document."},
                "examples": {"document": {"summary": "Its first members",
                                          "value": {"openapi": "3.1.0", "info": {"title": "medical-records platform API",
                                                                                "version": VERSION}}}}}}}},
        }},
        "/docs": {"get": {
            "operationId": "getAPIDocs", "tags": ["API documents"], "summary": "This documentation as a web page",
            "description": "A self-contained HTML rendering of this document (no scripts, no external resources). "
                           "Public.",
            "security": [],
            "responses": {"200": {"description": "The page.", "content": {"text/html": {
                "schema": {"type": "string"},
                "examples": {"page": {"summary": "The start of the page",
                                      "value": "<!DOCTYPE html>\n<html lang=\"en\">..."}}}}}},
        }},
    }


# ----------------------------------------------------------------------------------------------
# The document

INFO_DESCRIPTION = f"""\
The platform API of **medical-records**: plain JSON for patient apps, practice software and billing, beside the \
FHIR R4 API under `/fhir`. Both are faces of **one store**: every platform record *is* a FHIR resource.

| platform | FHIR resource |
| --- | --- |
| `/patients/{{id}}` | `Patient/{{id}}` |
| `/doctors/{{id}}` | `Practitioner/{{id}}` |
| `/appointments/{{id}}` | `Encounter/{{id}}` |
| `/medical-records/{{id}}` | `Composition/{{id}}` |
| `/prescriptions/{{id}}` | `MedicationRequest/{{id}}` |
| `/billings/{{id}}` | `Claim/{{id}}` |

- **Same ids, same versions.** `GET /patients/{{id}}` and `GET /fhir/Patient/{{id}}` read the same record; the \
`ETag` (`W/"3"`) is the FHIR `meta.versionId`. A write on either face is visible on the other at once, and both \
are audited alike.
- **Foreign data reads fine.** Resources written through FHIR by other systems (imports, partner hospitals) \
appear in the platform lists. Fields their resource lacks are absent from the answer, even fields that a \
request body must carry.
- **PUT merges into FHIR.** A PUT body is the whole platform object: an optional field left out is cleared. But \
only the FHIR elements the platform model maps are written; everything else on the FHIR resource (identifiers, \
extra names, extensions, elements other systems wrote) is kept, and mapped elements whose platform value did \
not change are left exactly as they were.
- **Strict bodies.** Bodies are `application/json`, camelCase. Read-only members (`id`; `createdAt` and \
`updatedAt` of medical records) are ignored in a request; any other unknown member is a 400, and every bad field \
is reported at once.
- **Formats.** `date` is `YYYY-MM-DD`; `date-time` is ISO 8601 with seconds and a zone (`2026-11-29T09:30:00Z`, \
`2026-11-29T10:30:00+01:00`); times are `HH:MM` or `HH:MM:SS`; money is `{{"value": "150.00", "currency": \
"USD"}}` with the value as a decimal string.
- **Paging.** Lists answer `{{"items": [...], "nextCursor": "..."}}`; pass `nextCursor` back as `cursor` until it \
is absent. `limit` is 1 to 100 (default 20).
- **Errors** are `{{"error": {{"code", "message", "details": [{{"field", "issue"}}]}}}}`; `details` is present when \
there is something to say per field. Messages never quote what was sent. Besides the answers listed per \
operation, any request can get 503 `unavailable` (database or audit log unavailable; retry after `Retry-After`) \
or 500 `internal_error`.
- **Access** is the FHIR face's: the token's role ∩ its SMART scopes ∩ the caller's relationship to the patient \
(a patient's own record; a doctor's patients; billing staff and bills; system clients by their `system/` scopes). \
A record the caller may not see is a 404 and is left out of lists; a write the caller may not make is a 403. A \
doctor may open a patient outside their care for one request with `X-Break-Glass: <reason>`, audited as \
emergency access.

Authentication: register (`POST /auth/register`), log in (`POST /auth/login`), send \
`Authorization: Bearer <accessToken>` on every call, renew with `POST /auth/refresh`, end with \
`POST /auth/logout`. System clients get tokens from `POST /auth/token` (OAuth 2.0 client credentials, see the \
FHIR guide). The guides: `docs/api.md` and `docs/fhir.md` in the repository."""

TAGS = [
    {"name": "Authentication", "description": "Accounts, sessions and tokens. Register and log in without a "
                                              "token; everything else needs `Authorization: Bearer`."},
    *[{"name": c["tag"], "description": f"{c['model']} records, stored as FHIR {c['fhir']} "
                                        f"(`/fhir/{c['fhir']}/{{id}}` is the same record). Access: {c['access']}"}
      for c in COLLECTIONS],
    {"name": "API documents", "description": "This description, as JSON and as a web page. Public."},
]


def parameters():
    def query(name, description, schema, example):
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema,
                "example": example}

    return {
        "Limit": query("limit", "How many records a page holds at most.",
                       {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, 20),
        "Cursor": query("cursor", "The `nextCursor` of the previous page (opaque). Keep the other parameters the same.",
                        {"type": "string", "minLength": 1}, CURSOR),
        "NameFilter": query("name", "Records whose first or last name starts with this text, ignoring case and "
                                    "accents (`jose` finds José and Josephine; `do` finds Doe).", {"type": "string", "minLength": 1}, "doe"),
        "DateOfBirthFilter": query("dateOfBirth", "Patients born on this date.",
                                   {"type": "string", "format": "date", "pattern": DATE_PATTERN}, "1985-04-12"),
        "PatientIdFilter": query("patientId", "Only this patient's records.",
                                 {"type": "string", "pattern": FHIR_ID_PATTERN}, PATIENT_ID),
        "DoctorIdFilter": query("doctorId", "Only this doctor's appointments.",
                                {"type": "string", "pattern": FHIR_ID_PATTERN}, DOCTOR_ID),
        "AppointmentStatusFilter": query("status", "Only appointments with this status.",
                                         {"type": "string", "enum": ["scheduled", "completed", "canceled"]}, "scheduled"),
        "FromFilter": query("from", "Only appointments at or after this time (`from` ≤ `dateTime`). A date means its "
                                    "first moment.", ref("DateOrDateTime"), "2026-12-01"),
        "ToFilter": query("to", "Only appointments before this time (`dateTime` < `to`). A date means its first "
                                "moment, so `to=2026-12-08` ends with 7 December.", ref("DateOrDateTime"), "2026-12-08"),
        "IfMatch": {"name": "If-Match", "in": "header", "required": False,
                    "description": "The ETag of the version the change is based on (`W/\"3\"`). When it is not the "
                                   "current version the answer is 409 and nothing is written.",
                    "schema": {"type": "string", "pattern": r'^W/"[0-9]+"$'}, "example": 'W/"3"'},
        "BreakGlass": {"name": "X-Break-Glass", "in": "header", "required": False,
                       "description": "Doctors only: emergency access to a patient outside their care, for this "
                                      "request only. The reason is audited with purpose of use `BTG` (its first 200 "
                                      "characters; the rest is dropped); no care relationship is created. Ignored "
                                      "for other roles, and when empty.",
                       "schema": {"type": "string"},
                       "example": "Unconscious patient in the emergency department"},
    }


def headers():
    return {
        "ETag": {"description": "The record's version, weak: `W/\"<FHIR meta.versionId>\"`. Send it as `If-Match` "
                                "on a later PUT.", "schema": {"type": "string", "pattern": r'^W/"[0-9]+"$'},
                 "example": 'W/"1"'},
        "Location": {"description": "Where the new record lives: `/{collection}/{id}`.",
                     "schema": {"type": "string"}, "example": f"/patients/{PATIENT_ID}"},
        "WWW-Authenticate": {"description": "The bearer challenge, with `error=\"invalid_token\"` when a token was "
                                            "sent but is not valid.", "schema": {"type": "string"},
                             "example": 'Bearer realm="medrec", error="invalid_token"'},
        "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer", "minimum": 1},
                        "example": 840},
    }


def schemas():
    result = {
        "Patient": PATIENT, "Address": ADDRESS, "Contact": CONTACT, "Insurance": INSURANCE,
        "Doctor": DOCTOR, "WorkSchedule": WORK_SCHEDULE,
        "Appointment": APPOINTMENT,
        "AppointmentCancellation": obj(
            "The answer to `DELETE /appointments/{id}`: the appointment is canceled, not deleted.",
            {"id": {"type": "string", "pattern": FHIR_ID_PATTERN, "description": "The appointment's id."},
             "status": {"type": "string", "const": "canceled"},
             "message": {"type": "string", "const": "the appointment was canceled; the record is kept"},
             "appointment": ref("Appointment", description="The appointment as it now is.")},
            required=["id", "status", "message", "appointment"]),
        "MedicalRecord": MEDICAL_RECORD, "RecordItem": RECORD_ITEM,
        "Prescription": PRESCRIPTION,
        "Billing": BILLING, "Money": MONEY,
        "DateOrDateTime": {
            "description": "A date (`YYYY-MM-DD`) or a date-time with seconds and a zone.",
            "anyOf": [{"type": "string", "format": "date", "pattern": DATE_PATTERN},
                      {"type": "string", "format": "date-time", "pattern": DATE_TIME_PATTERN}]},
        "Time": {"type": "string", "pattern": TIME_PATTERN,
                 "description": "A time of day, `HH:MM` or `HH:MM:SS` (24 hours). Answers carry the stored "
                                "`HH:MM:SS` form."},
    }
    for c in COLLECTIONS:
        result[f"{c['model']}List"] = list_schema(c["model"], c["tag"])
    result.update({
        "Error": obj(
            "Every error outside `/fhir` (where errors are OperationOutcomes).",
            {"error": obj("What went wrong.", {
                "code": {"type": "string", "pattern": "^[a-z_]+$", "description": (
                    "Stable, for programs: `validation_failed`, `malformed_json`, `bad_parameter` (400); "
                    "`unauthorized`, `invalid_token`, `invalid_request`, `invalid_credentials`, `invalid_grant` "
                    "(401); `forbidden`, `account_pending`, `account_disabled` (403); `not_found` (404); "
                    "`conflict`, `email_taken` (409); `body_too_large` (413); `unknown_reference`, "
                    "`invalid_resource` (422); `too_many_attempts` (429); `internal_error` (500); `unavailable`, "
                    "`busy` (503).")},
                "message": {"type": "string", "description": "For people; never quotes what was sent."},
                "details": {"type": "array", "minItems": 1, "items": ref("ErrorDetail"),
                            "description": "One entry per bad field, all at once; absent when there is none."},
            }, required=["code", "message"])},
            required=["error"]),
        "ErrorDetail": obj("One bad field.", {
            "field": {"type": "string", "description": "Where: a member path such as `address.postalCode`, "
                                                      "`workSchedule[1].endTime` or a query parameter name."},
            "issue": {"type": "string", "description": "What is wrong with it."},
        }, required=["field", "issue"]),
        "RegisterRequest": REGISTER_REQUEST, "RegisteredAccount": REGISTERED, "LoginRequest": LOGIN_REQUEST,
        "RefreshRequest": REFRESH_REQUEST, "TokenPair": TOKEN_PAIR, "Me": ME,
    })
    return result


def document():
    paths = {}
    paths.update(auth_paths())
    for c in COLLECTIONS:
        paths.update(collection_paths(c))
    paths.update(document_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "medical-records platform API",
            "version": VERSION,
            "summary": "Plain-JSON patients, doctors, appointments, medical records, prescriptions and billings, "
                       "stored as FHIR R4.",
            "description": INFO_DESCRIPTION,
        },
        "servers": [{"url": "/", "description": "This server (the FHIR API is under /fhir)."}],
        "security": [{"bearerAuth": []}],
        "tags": TAGS,
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "An access token from `POST /auth/login`, `POST /auth/refresh` or (system clients) "
                               "`POST /auth/token`: `Authorization: Bearer <token>`. Tokens are JWTs (EdDSA, "
                               "`typ: at+jwt`) that live 15 minutes by default; logout, a password change, a "
                               "disabled account or a revoked client stop them at once. Public operations "
                               "(register, login, refresh, `/openapi.json`, `/docs`) need none."}},
            "schemas": schemas(),
            "parameters": parameters(),
            "headers": headers(),
            "responses": ERROR_RESPONSES,
        },
    }


def render():
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if Sources/Server/Resources/openapi.json is not current")
    args = parser.parse_args()
    text_out = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text_out:
            print(f"{OUTPUT.relative_to(ROOT)} is not current: run python3 scripts/generate-openapi.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(ROOT)} is current")
        return 0
    OUTPUT.write_text(text_out, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
