"""The issue's journeys, clicking and typing as a person would, in order (the later ones build
on what the earlier ones made; each sets up through the API what an earlier failed step would
have left, so one missing page does not hide the rest):

1. a patient registers, signs in, sees their summary, requests an appointment, sees who looked
   at their record;
2. an admin approves a doctor; the doctor signs in, finds that patient, opens the chart
   (break-glass the first time, with a reason), writes an entry, prescribes, and books the
   appointment; the patient then sees all three;
3. billing creates a bill for the visit; the patient sees it;
4. a second patient cannot reach the first patient's pages by editing URLs or form fields
   (404/403, and a denial in the audit log).

Elements are found by label text, visible text and form field names only."""

import datetime
import re
import unittest
import uuid

from selenium.webdriver.common.by import By

from support import Browser, Config, api, login, register, register_patient, unique_email

NOT_FOUND_TITLES = ("Not found", "Not permitted")


class State:
    tag = uuid.uuid4().hex[:6]
    patient_email = f"ada-{tag}@browser.example"
    patient_first = "Ada"
    patient_last = f"Lovelace{tag.capitalize()}"
    patient_id = None  # Patient/<id> once known
    doctor_email = f"doctor-{tag}@browser.example"
    doctor_last = f"Snow{tag.capitalize()}"
    # The patient's family doctor, whom they ask for an appointment in journey 1. Journey 2's
    # doctor has no care relationship with the patient (a request names its doctor and gives
    # them one), so the chart asks for break-glass.
    gp_email = f"gp-{tag}@browser.example"
    gp_last = f"Grey{tag.capitalize()}"
    entry_text = f"Seen in clinic, follow up in two weeks ({tag})."
    medication = "Amoxicillin 500 mg"
    appointment_day = (datetime.date.today() + datetime.timedelta(days=14))
    second_email = f"eve-{tag}@browser.example"


def ensure_patient():
    """The journey's patient, registered through the API if the web registration did not."""
    status, _ = api("POST", "/auth/login", {"email": State.patient_email, "password": Config.password})
    if status != 200:
        register_patient(State.patient_email, first=State.patient_first, last=State.patient_last, dateOfBirth="1985-12-10")
    if State.patient_id is None:
        token = login(State.patient_email)
        _, me = api("GET", "/auth/me", token=token)
        State.patient_id = me["fhirUser"].split("/")[-1]
    return State.patient_id


def ensure_doctor(email=None, last=None):
    """A doctor (journey 2's unless named), registered and approved through the API if the
    pages did not."""
    email, last = email or State.doctor_email, last or State.doctor_last
    status, answer = api("POST", "/auth/login", {"email": email, "password": Config.password})
    if status == 200:
        return
    status, answer = register({
        "email": email, "password": Config.password, "role": "doctor",
        "firstName": "John", "lastName": last, "specialization": "General practice"})
    if status == 201:
        api("POST", f"/admin/users/{answer['id']}/approve", token=login(Config.admin))


def visible(browser):
    if browser.title in NOT_FOUND_TITLES:
        raise AssertionError(f"{browser.path} is not built yet or refused ({browser.title})")
    return browser


class JourneyTests(unittest.TestCase):
    """Named test_1… so unittest runs them in the issue's order."""

    def test_1_a_patient_registers_signs_in_requests_an_appointment_and_sees_who_looked(self):
        browser = Browser(self)
        browser.visit("/app/sign-in")
        browser.follow("Create an account")
        visible(browser)
        browser.screenshot("register")
        browser.fill("First name", State.patient_first)
        browser.fill("Last name", State.patient_last)
        browser.fill("Email", State.patient_email)
        browser.fill("Password", Config.password)
        try:
            browser.fill("Date of birth", "1985-12-10")
        except AssertionError:
            pass
        try:
            browser.choose("Patient")
        except AssertionError:
            pass  # a patients-only form
        browser.press("Create account")
        if browser.path.startswith("/app/register"):
            self.fail("registration refused: " + browser.text[:800])
        if not browser.path.startswith("/app/patient"):
            browser.sign_in(State.patient_email)
        self.assertTrue(browser.path.startswith("/app/patient"), browser.path)
        visible(browser)
        browser.sees(State.patient_last)
        browser.screenshot("patient-summary")
        ensure_patient()
        ensure_doctor(State.gp_email, State.gp_last)
        # Request an appointment with the family doctor (no time: the practice sets it).
        browser.visit("/app/patient/appointments")
        visible(browser)
        form = browser.form_with("Request")
        browser.fill("Doctor", State.gp_last)
        browser.fill("Reason", "Persistent cough")
        browser.press("Request", within=form)
        self.assertNotIn(browser.title, NOT_FOUND_TITLES)
        browser.sees("Your request is sent")
        browser.sees(State.gp_last)
        browser.sees("Persistent cough")
        browser.screenshot("patient-appointments")
        # Who looked at my record: at least the patient's own views.
        browser.visit("/app/patient/access")
        visible(browser)
        self.assertTrue(browser.driver.find_elements(By.TAG_NAME, "table") or browser.driver.find_elements(By.CSS_SELECTOR, ".timeline li"),
                        "the access page lists nothing")

    def test_2_an_admin_approves_a_doctor_who_opens_the_chart_writes_prescribes_and_books(self):
        ensure_patient()
        # The doctor registers (waits for approval).
        status, answer = api("POST", "/auth/login", {"email": State.doctor_email, "password": Config.password})
        if status != 200:
            registered, answer = register({
                "email": State.doctor_email, "password": Config.password, "role": "doctor",
                "firstName": "John", "lastName": State.doctor_last, "specialization": "General practice"})
            self.assertEqual(registered, 201, answer)
            admin = Browser(self).sign_in(Config.admin)
            admin.visit("/app/admin")
            visible(admin)
            admin.sees(State.doctor_email)
            admin.screenshot("admin-pending-doctors")
            admin.press(f"Approve {State.doctor_email}")
            admin.visit("/app/admin")
            self.assertNotIn(State.doctor_email, admin.text, "the doctor is still pending")
        doctor = Browser(self).sign_in(State.doctor_email)
        self.assertTrue(doctor.path.startswith("/app/doctor"), doctor.path)
        # Find the patient by name.
        doctor.visit("/app/doctor/search")
        visible(doctor)
        doctor.fill("Name", State.patient_last)
        doctor.press("Search")
        doctor.sees(State.patient_last)
        doctor.screenshot("doctor-search")
        doctor.follow(State.patient_last)
        # No care relationship yet: the chart asks for a break-glass reason, saying it is audited.
        self.assertIn("audit", doctor.text.lower())
        doctor.fill("Reason", "Patient in A&E, unconscious; history needed")
        doctor.press("Open")
        visible(doctor)
        doctor.sees(State.patient_last)
        doctor.sees("Emergency access (audited)")
        doctor.screenshot("doctor-chart")
        # Write an entry. Break-glass holds for one request: the chart's actions are forms that
        # carry the reason, and each write shows the chart again under it.
        doctor.act("Write an entry")
        visible(doctor)
        doctor.fill("Diagnosis", "Acute bronchitis")
        doctor.fill("Notes", State.entry_text)
        doctor.press("Save the entry")
        doctor.sees("The medical-record entry was saved")
        doctor.sees(State.entry_text[:30])
        # Prescribe.
        doctor.act("Prescribe")
        visible(doctor)
        doctor.fill("Medication", State.medication)
        doctor.fill("Dosage", "One capsule three times a day for 7 days")
        doctor.press("Prescribe")
        doctor.sees("The prescription was saved")
        doctor.sees(State.medication)
        # Book the follow-up appointment (the doctor runs their own schedule).
        doctor.act("Schedule an appointment")
        visible(doctor)
        doctor.fill("Date and time", State.appointment_day.isoformat() + "T10:30")
        doctor.fill("Reason for the visit", "Follow-up of the bronchitis")
        doctor.press("Schedule")
        doctor.sees(State.patient_last)
        doctor.screenshot("doctor-schedule-booked")
        # The patient sees all three.
        patient = Browser(self).sign_in(State.patient_email)
        patient.visit("/app/patient/records")
        visible(patient).sees(State.entry_text[:30])
        patient.screenshot("patient-records")
        patient.visit("/app/patient/prescriptions")
        visible(patient).sees(State.medication)
        patient.visit("/app/patient/appointments")
        visible(patient).sees(State.doctor_last)
        # And who looked, with the break-glass reason.
        patient.visit("/app/patient/access")
        visible(patient).sees("A&E")
        patient.screenshot("patient-access")

    def test_3_billing_creates_a_bill_the_patient_sees(self):
        ensure_patient()
        billing = Browser(self).sign_in(Config.billing)
        billing.visit("/app/billing/new")
        visible(billing)
        billing.fill("Patient's name", State.patient_last)
        billing.press("Find the patient")
        billing.follow(State.patient_last)
        visible(billing)
        billing.fill("Date", datetime.date.today().isoformat())
        billing.fill("Currency", "USD")
        billing.fill("Amount", "125.50")
        billing.fill("Insurance pays", "25.50")
        billing.press("Create the bill")
        visible(billing).sees("125.50")
        billing.screenshot("billing-bill")
        patient = Browser(self).sign_in(State.patient_email)
        patient.visit("/app/patient/bills")
        visible(patient).sees("125.50")
        patient.screenshot("patient-bills")

    def test_4_a_second_patient_cannot_reach_the_first_patients_pages(self):
        first = ensure_patient()
        register_patient(State.second_email, first="Eve", last=f"Other{State.tag}")
        eve_token = login(State.second_email)
        _, me = api("GET", "/auth/me", token=eve_token)
        eve = Browser(self).sign_in(State.second_email)
        # Editing URLs: the first patient's chart, records and bills by id.
        refused = []
        for path in (f"/app/doctor/patients/{first}", f"/app/billing/patients/{first}", f"/app/patient/records?patient={first}",
                     f"/app/patient?patient={first}"):
            eve.visit(path)
            if eve.title in NOT_FOUND_TITLES:
                refused.append(path)
            else:
                self.assertNotIn(State.patient_last, eve.text, f"{path} showed the first patient's data")
        self.assertTrue(refused, "no URL was refused")
        # Editing a form field: cancel the first patient's appointment from Eve's own page.
        status, appointments = api("GET", f"/appointments?patientId={first}", token=login(State.patient_email))
        appointment_ids = [a.get("id") for a in (appointments or {}).get("items", [])] if status == 200 and isinstance(appointments, dict) else []
        # Eve needs an appointment of her own for the page to show a cancel form to tamper with.
        eve.visit("/app/patient/appointments")
        visible(eve)
        if not eve.driver.find_elements(By.XPATH, "//form[.//button[contains(., 'Cancel')]]"):
            form = eve.form_with("Request")
            eve.fill("Doctor", State.doctor_last)
            eve.press("Request", within=form)
        forms = eve.driver.find_elements(By.XPATH, "//form[.//button[contains(., 'Cancel')]]")
        self.assertTrue(forms and appointment_ids, "no cancel form on Eve's page, or no appointment of the first patient")
        form = forms[0]
        hidden = [h for h in form.find_elements(By.CSS_SELECTOR, "input[type='hidden']") if h.get_attribute("name") != "_csrf"]
        target = appointment_ids[0]
        if hidden:
            # The appointment named in a hidden field.
            eve.driver.execute_script("arguments[0].value = arguments[1]", hidden[0], target)
        else:
            # The appointment named in the form's action.
            action = form.get_attribute("action")
            eve.driver.execute_script("arguments[0].setAttribute('action', arguments[1])", form,
                                      re.sub(r"[0-9a-f-]{36}", target, action))
        eve.press("Cancel", within=form)
        self.assertIn(eve.title, NOT_FOUND_TITLES, "tampered cancel was not refused")
        # The first patient's appointment is untouched.
        status, appointment = api("GET", f"/appointments/{target}", token=login(State.patient_email))
        self.assertEqual(status, 200, appointment)
        self.assertNotEqual(appointment.get("status"), "canceled")
        # The denial is in the audit log, under Eve.
        status, bundle = api("GET", f"/fhir/AuditEvent?agent={me['id']}&_count=100", token=login(Config.admin))
        self.assertEqual(status, 200, bundle)
        outcomes = [e["resource"].get("outcome") for e in bundle.get("entry", [])]
        self.assertTrue(any(o in ("4", "8") for o in outcomes), f"no denial audited for the second patient: {outcomes}")


if __name__ == "__main__":
    unittest.main()
