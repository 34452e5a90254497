"""Shared pieces of the browser suite: the configuration run.py sets, a Chromium driver with
no downloads, and `Browser`, a person at a browser that checks every page it visits (the
security headers, axe-core with no serious or critical violation) and can photograph it."""

import http.cookiejar
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, NoSuchElementException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("MEDREC_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MEDREC_CHROMEDRIVER", "/usr/bin/chromedriver")
AXE_SCRIPT = os.path.join(
    os.path.dirname(__import__("axe_selenium_python").__file__), "node_modules", "axe-core", "axe.min.js")

DESKTOP = (1280, 900)
PHONE = (390, 844)


class Config:
    base_url = "http://127.0.0.1:8080"
    password = ""
    admin = ""
    billing = ""
    screenshots = None

    @classmethod
    def url(cls, path):
        return cls.base_url.rstrip("/") + path

    @classmethod
    def host(cls):
        return re.sub(r"^https?://", "", cls.base_url).split("/")[0].split(":")[0]


def unique_email(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}@browser.example"


def new_driver():
    """Headless Chromium from Debian, driven by its own chromedriver: selenium is given both
    paths, so selenium-manager never looks for (or downloads) anything."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--disable-extensions", "--no-first-run", "--password-store=basic",
                     f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--lang=en-GB"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


# MARK: - The platform API, for setting up accounts (not under test here)

def api(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(Config.url(path), data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        # Registrations and sign-ins hash a password with bcrypt on one low-priority thread, which
        # a full parallel `swift test` on two cores can starve for more than 30 s (seen in CI);
        # the bound is for a hung server, not for the hasher's queue.
        with urllib.request.urlopen(request, timeout=120) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, text


def register_patient(email, first="Test", last="Patient", **extra):
    body = {"email": email, "password": Config.password, "role": "patient", "firstName": first, "lastName": last,
            "dateOfBirth": "1980-01-01"}
    body.update(extra)
    status, answer = register(body)
    if status != 201:
        raise AssertionError(f"registering {email} failed: {status} {answer}")
    return answer


def register(body):
    """POST /auth/register; fields the server does not take (yet) are dropped and the request
    sent again, so the suite runs on either side of the registration change (issue 17)."""
    status, answer = api("POST", "/auth/register", body)
    if status == 400 and isinstance(answer, dict):
        details = answer.get("error", {}).get("details", [])
        unknown = [d.get("field") for d in details if d.get("field") in body and "required" not in d.get("issue", "")]
        if unknown:
            status, answer = api("POST", "/auth/register", {k: v for k, v in body.items() if k not in unknown})
    return status, answer


def login(email, password=None):
    status, answer = api("POST", "/auth/login", {"email": email, "password": password or Config.password})
    if status != 200:
        raise AssertionError(f"API login of {email} failed: {status} {answer}")
    return answer["accessToken"]


# MARK: - The attacker's site

class AttackerSite:
    """A second local web server (another port, so another origin) whose page auto-submits a
    form to the app, as a hostile site would. `page(name)` serves the HTML registered for it."""

    def __init__(self):
        pages = self.pages = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages.get(self.path.lstrip("/"), "not here").encode()
                self.send_response(200 if self.path.lstrip("/") in pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, name, html):
        self.pages[name] = html

    def url(self, host, name):
        return f"http://{host}:{self.port}/{name}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# MARK: - A person at a browser

class PageProblem(AssertionError):
    pass


class Browser:
    """One browser profile (its own cookies). `visit` loads a page and checks it; `check`
    checks the page the browser is on (after a click or a form)."""

    def __init__(self, test):
        self.test = test
        self.driver = new_driver()
        test.addCleanup(self.quit)
        self.checked = []

    def quit(self):
        try:
            self.driver.quit()
        except Exception:
            pass

    # Navigation

    def visit(self, path, check=True):
        self.driver.get(Config.url(path) if path.startswith("/") else path)
        if check:
            self.check()
        return self

    @property
    def path(self):
        url = self.driver.current_url
        return "/" + url.split("://", 1)[-1].split("/", 1)[-1] if "://" in url else url

    @property
    def title(self):
        """The page's <h1> (the layout prints the page title there)."""
        try:
            return self.driver.find_element(By.TAG_NAME, "h1").text.strip()
        except NoSuchElementException:
            return ""

    @property
    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    @property
    def html(self):
        return self.driver.page_source

    def wait_for(self, condition, timeout=15, message="condition"):
        try:
            return WebDriverWait(self.driver, timeout).until(lambda d: condition())
        except TimeoutException:
            raise AssertionError(f"timed out waiting for {message}; at {self.path}: {self.title!r}")

    # Finding things as a person does

    def field(self, label):
        """The form control whose <label> reads `label` (exactly, or starting with it)."""
        labels = self.driver.find_elements(By.TAG_NAME, "label")
        for wanted in (lambda t: t == label, lambda t: t.lower().startswith(label.lower())):
            for element in labels:
                text = element.text.strip().rstrip("*").strip()
                if wanted(text):
                    target = element.get_attribute("for")
                    if target:
                        return self.driver.find_element(By.ID, target)
                    return element.find_element(By.CSS_SELECTOR, "input, select, textarea")
        raise AssertionError(f"no field labelled {label!r} at {self.path}; labels: {[l.text for l in labels]}")

    def fill(self, label, value):
        element = self.field(label)
        if element.tag_name == "select":
            from selenium.webdriver.support.select import Select
            select = Select(element)
            try:
                select.select_by_visible_text(value)
            except NoSuchElementException:
                matches = [o for o in select.options if value.lower() in o.text.lower()]
                if not matches:
                    raise AssertionError(f"{label!r} has no option {value!r}: {[o.text for o in select.options]}")
                matches[0].click()
        elif element.get_attribute("type") in ("date", "datetime-local", "time"):
            # Typing into a date control depends on the browser's locale; set the ISO value the
            # control submits (as its picker would) and tell the page it changed.
            self.driver.execute_script(
                "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
                "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));", element, value)
        elif element.get_attribute("type") in ("checkbox", "radio"):
            if bool(value) != element.is_selected():
                element.click()
        else:
            element.clear()
            element.send_keys(value)
        return element

    def choose(self, text):
        """Ticks the radio button or checkbox whose label contains `text`."""
        for element in self.driver.find_elements(By.TAG_NAME, "label"):
            if text.lower() in element.text.lower():
                target = element.get_attribute("for")
                control = self.driver.find_element(By.ID, target) if target else element.find_element(By.TAG_NAME, "input")
                if not control.is_selected():
                    control.click()
                return control
        raise AssertionError(f"no choice labelled {text!r} at {self.path}")

    def press(self, text, within=None):
        """Clicks the button (or submit input) whose visible text is `text`."""
        scope = within or self.driver
        candidates = scope.find_elements(By.XPATH, ".//button | .//input[@type='submit']")
        for wanted in (lambda t: t == text, lambda t: text.lower() in t.lower()):
            for element in candidates:
                label = (element.text or element.get_attribute("value") or "").strip()
                if wanted(label) and element.is_displayed():
                    element.click()
                    self.check()
                    return self
        raise AssertionError(f"no button {text!r} at {self.path}; buttons: {[c.text for c in candidates]}")

    def follow(self, text):
        """Clicks the link whose visible text contains `text`."""
        for element in self.driver.find_elements(By.TAG_NAME, "a"):
            if text.lower() in element.text.strip().lower() and element.is_displayed():
                element.click()
                self.check()
                return self
        raise AssertionError(f"no link {text!r} at {self.path}")

    def act(self, text):
        """Follows the link, or presses the button, whose visible text contains `text` (an
        action is a link on one page and a form's button on another, e.g. under break-glass)."""
        for element in self.driver.find_elements(By.XPATH, "//a | //button | //input[@type='submit']"):
            label = (element.text or element.get_attribute("value") or "").strip()
            if text.lower() in label.lower() and element.is_displayed():
                element.click()
                self.check()
                return self
        raise AssertionError(f"no link or button {text!r} at {self.path}")

    def form_with(self, text):
        """The form (or the card holding a form) whose text contains `text`."""
        for form in self.driver.find_elements(By.TAG_NAME, "form"):
            if text.lower() in form.text.lower():
                return form
        raise AssertionError(f"no form mentioning {text!r} at {self.path}")

    def sees(self, text):
        if text not in self.text:
            raise AssertionError(f"expected to see {text!r} at {self.path} ({self.title!r}); page text:\n{self.text[:3000]}")
        return self

    def no_alert(self):
        try:
            alert = self.driver.switch_to.alert
            text = alert.text
            alert.dismiss()
            raise AssertionError(f"a script ran: alert({text!r}) at {self.path}")
        except NoAlertPresentException:
            return self

    # Accounts

    def sign_in(self, email, password=None):
        self.visit("/app/sign-in")
        self.fill("Email", email)
        self.fill("Password", password or Config.password)
        self.press("Sign in")
        if self.path.startswith("/app/sign-in"):
            raise AssertionError(f"sign-in of {email} failed: {self.text[:500]}")
        return self

    def sign_out(self):
        self.press("Sign out")
        return self

    def session_cookie(self):
        for cookie in self.driver.get_cookies():
            if cookie["name"] in ("medrec_session", "__Host-medrec_session"):
                return cookie
        return None

    def signed_in(self):
        """Asks the server (not the cookie jar) whether this browser's session still works."""
        self.visit("/app/account/password")
        return self.path.startswith("/app/account/password") and self.title == "Change password"

    # Checks on every page

    def check(self):
        """The page just shown: no script ran from user data, the security headers are on the
        response (fetched again with this browser's cookies), and axe-core finds no serious or
        critical violation."""
        self.no_alert()
        url = self.driver.current_url
        if not url.startswith(Config.base_url):
            return
        status, headers = self.fetch_headers(url)
        csp = headers.get("content-security-policy", "")
        problems = []
        if "script-src 'self'" not in csp or "frame-ancestors 'none'" not in csp or "unsafe-inline" in csp:
            problems.append(f"Content-Security-Policy missing or weak: {csp!r}")
        if headers.get("x-content-type-options") != "nosniff":
            problems.append("X-Content-Type-Options: nosniff missing")
        if not headers.get("referrer-policy"):
            problems.append("Referrer-Policy missing")
        violations = self.axe()
        if violations:
            problems.append("axe-core: " + "; ".join(violations))
        self.checked.append((self.path, status))
        if problems:
            raise PageProblem(f"{self.path} ({self.title!r}): " + " | ".join(problems))

    def fetch_headers(self, url):
        """GETs `url` again with this browser's cookies (urllib, no redirects followed)."""
        cookies = "; ".join(f"{c['name']}={c['value']}" for c in self.driver.get_cookies())

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        request = urllib.request.Request(url, headers={"Cookie": cookies} if cookies else {})
        try:
            with opener.open(request, timeout=30) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}

    def axe(self):
        """axe-core's serious and critical violations on the current page (WCAG 2.x A/AA rules
        and best practices), each as "rule (impact): targets"."""
        with open(AXE_SCRIPT, encoding="utf8") as f:
            self.driver.execute_script(f.read())
        results = self.driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done([{id: 'axe-error', impact: 'critical', description: String(e), nodes: []}]));")
        found = []
        for violation in results:
            if violation.get("impact") in ("serious", "critical"):
                targets = [" ".join(map(str, node.get("target", []))) for node in violation.get("nodes", [])][:5]
                found.append(f"{violation['id']} ({violation['impact']}: {violation.get('help', violation.get('description', ''))}) at {targets}")
        return found

    # Screenshots

    def screenshot(self, name):
        """The current page at desktop and phone widths, as docs/screenshots/<name>-desktop.png
        and -phone.png (the viewport's full height of content, up to 3 screens)."""
        if not Config.screenshots:
            return
        os.makedirs(Config.screenshots, exist_ok=True)
        for suffix, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
            self.driver.set_window_size(width, height)
            time.sleep(0.2)
            content = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(width, min(max(height, content + 120), height * 3))
            self.driver.execute_script("window.scrollTo(0, 0)")
            time.sleep(0.2)
            self.driver.save_screenshot(os.path.join(Config.screenshots, f"{name}-{suffix}.png"))
        self.driver.set_window_size(*DESKTOP)


def reachable(host, port):
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


__all__ = [
    "Config", "Browser", "AttackerSite", "Keys", "By", "api", "register", "register_patient", "login", "unique_email",
    "new_driver", "reachable", "DESKTOP", "PHONE",
]
