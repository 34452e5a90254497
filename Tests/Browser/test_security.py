"""Sessions, cookies, CSRF and headers as Chromium itself sees them. Every page visited is also
checked by `Browser.check`: the CSP and other security headers, and axe-core."""

import time
import unittest

from support import AttackerSite, Browser, Config, Keys, register_patient, unique_email


class SignInSecurityTests(unittest.TestCase):
    def test_sign_in_by_keyboard_alone(self):
        email = unique_email("keys")
        register_patient(email, first="Kim", last="Keyboard")
        browser = Browser(self)
        browser.visit("/app/sign-in")
        browser.screenshot("sign-in")
        driver = browser.driver
        body = driver.find_element("tag name", "body")
        body.send_keys(Keys.TAB)
        for _ in range(12):
            if driver.switch_to.active_element.get_attribute("id") == "email":
                break
            driver.switch_to.active_element.send_keys(Keys.TAB)
        self.assertEqual(driver.switch_to.active_element.get_attribute("id"), "email", "Tab never reached the email field")
        driver.switch_to.active_element.send_keys(email)
        driver.switch_to.active_element.send_keys(Keys.TAB)
        self.assertEqual(driver.switch_to.active_element.get_attribute("id"), "password", "Tab from email did not reach the password")
        driver.switch_to.active_element.send_keys(Config.password)
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        browser.wait_for(lambda: not browser.path.startswith("/app/sign-in"), message="leaving the sign-in page")
        self.assertTrue(browser.path.startswith("/app/patient"), browser.path)
        self.assertIsNotNone(browser.session_cookie())
        self.assertTrue(browser.signed_in())

    def test_a_wrong_password_is_an_error_next_to_the_form(self):
        email = unique_email("wrong")
        register_patient(email)
        browser = Browser(self)
        browser.visit("/app/sign-in")
        browser.fill("Email", email)
        browser.fill("Password", "not the password at all")
        browser.press("Sign in")
        self.assertTrue(browser.path.startswith("/app/sign-in"))
        browser.sees("The email or password is incorrect.")
        self.assertIsNone(browser.session_cookie())

    def test_the_session_cookie_is_http_only_and_same_site_strict(self):
        email = unique_email("cookie")
        register_patient(email)
        browser = Browser(self)
        browser.sign_in(email)
        cookie = browser.session_cookie()
        self.assertIsNotNone(cookie, "no session cookie")
        self.assertTrue(cookie["httpOnly"], cookie)
        self.assertEqual(cookie.get("sameSite"), "Strict", cookie)
        self.assertEqual(cookie.get("path"), "/", cookie)
        # Plain HTTP here: not Secure (behind TLS the server sets Secure and the __Host- prefix).
        self.assertFalse(cookie.get("secure"), cookie)
        # Scripts in the page cannot read it.
        self.assertNotIn("medrec_session", browser.driver.execute_script("return document.cookie"))
        form = browser.driver.get_cookie("medrec_form")
        if form is not None:
            self.assertTrue(form["httpOnly"])
            self.assertEqual(form.get("sameSite"), "Strict")


class CrossSiteTests(unittest.TestCase):
    def setUp(self):
        self.attacker = AttackerSite()
        self.addCleanup(self.attacker.close)

    def test_a_cross_site_form_post_without_the_token_fails(self):
        email = unique_email("victim")
        register_patient(email, first="Vic", last="Tim")
        browser = Browser(self)
        browser.sign_in(email)
        target = Config.url("/app/sign-out")
        # A page on another port (another origin; the same site for 127.0.0.1, so the Strict
        # cookie goes along) and on another host name (another site: the cookie stays home).
        self.attacker.add("attack.html", f"""<!doctype html><html lang="en"><head><title>Win a prize</title></head>
<body><form method="post" action="{target}"><input type="hidden" name="x" value="1"></form>
<script>document.forms[0].submit()</script></body></html>""")
        self.attacker.add("attack-token.html", f"""<!doctype html><html lang="en"><head><title>Win a prize</title></head>
<body><form method="post" action="{target}"><input type="hidden" name="_csrf" value="guessed"></form>
<script>document.forms[0].submit()</script></body></html>""")
        other_host = "localhost" if Config.host() != "localhost" else "127.0.0.1"
        for host in (Config.host(), other_host):
            for page in ("attack.html", "attack-token.html"):
                browser.visit(self.attacker.url(host, page), check=False)
                browser.wait_for(lambda: browser.driver.current_url.startswith(Config.base_url), message="the forged post")
                time.sleep(0.3)
                # Refused (403 "This form has expired"), or without the Strict cookie sent back to sign in:
                # either way the victim's session is untouched.
                self.assertTrue(browser.signed_in(), f"the forged post from {host} ({page}) signed the victim out")
                self.assertIsNotNone(browser.session_cookie())
        # And the real button still works.
        browser.sign_out()
        self.assertFalse(browser.signed_in())


class SessionEndTests(unittest.TestCase):
    def test_signing_out_in_one_tab_ends_the_session_in_another(self):
        email = unique_email("tabs")
        register_patient(email)
        browser = Browser(self)
        browser.sign_in(email)
        first = browser.driver.current_window_handle
        browser.driver.switch_to.new_window("tab")
        second = browser.driver.current_window_handle
        self.assertTrue(browser.signed_in())
        browser.driver.switch_to.window(first)
        browser.visit("/app/account/password")
        browser.sign_out()
        self.assertTrue(browser.path.startswith("/app/sign-in"))
        browser.driver.switch_to.window(second)
        browser.driver.refresh()
        self.assertTrue(browser.path.startswith("/app/sign-in"), f"the other tab still shows {browser.path}")
        self.assertFalse(browser.signed_in())

    def stolen_copy(self, victim):
        """A fresh browser profile holding a copy of the victim's session cookie."""
        cookie = victim.session_cookie()
        self.assertIsNotNone(cookie)
        thief = Browser(self)
        thief.visit("/app/sign-in", check=False)
        thief.driver.add_cookie({"name": cookie["name"], "value": cookie["value"], "path": "/", "httpOnly": True, "sameSite": "Strict"})
        return thief

    def test_a_stolen_cookie_stops_working_after_logout(self):
        email = unique_email("stolen")
        register_patient(email)
        victim = Browser(self)
        victim.sign_in(email)
        thief = self.stolen_copy(victim)
        self.assertTrue(thief.signed_in(), "the copied cookie should work while the session lives")
        victim.visit("/app/account/password")
        victim.sign_out()
        self.assertFalse(thief.signed_in(), "the copied cookie still works after sign-out")

    def test_a_stolen_cookie_stops_working_after_a_password_change(self):
        email = unique_email("changed")
        register_patient(email)
        victim = Browser(self)
        victim.sign_in(email)
        thief = self.stolen_copy(victim)
        self.assertTrue(thief.signed_in())
        victim.visit("/app/account/password")
        victim.screenshot("change-password")
        new_password = "a brand new passphrase 42"
        victim.fill("Current password", Config.password)
        victim.fill("New password", new_password)
        victim.press("Change password")
        self.assertTrue(victim.path.startswith("/app/sign-in"), victim.path)
        self.assertFalse(thief.signed_in(), "the copied cookie still works after a password change")
        # The owner signs in again with the new password; the old copy stays dead.
        victim.sign_in(email, new_password)
        self.assertTrue(victim.signed_in())
        self.assertFalse(thief.signed_in())

    def test_a_password_change_with_a_bad_new_password_shows_the_error_by_the_field(self):
        email = unique_email("short")
        register_patient(email)
        browser = Browser(self)
        browser.sign_in(email)
        browser.visit("/app/account/password")
        browser.fill("Current password", Config.password)
        browser.fill("New password", "short")
        # `required` and no minlength in the form: the server answers with the field's error.
        browser.press("Change password")
        field = browser.field("New password")
        self.assertEqual(field.get_attribute("aria-invalid"), "true")
        self.assertIn("newPassword-error", field.get_attribute("aria-describedby"))
        self.assertTrue(browser.signed_in())


if __name__ == "__main__":
    unittest.main()
