#!/usr/bin/env python3
"""The browser suite's entry point: checks that Chromium, chromedriver, selenium and axe-core
are here (and fails, saying what to install, when they are not), then runs the unittest
modules test_*.py in this folder against a running medrec server.

    python3 Tests/Browser/run.py --base-url http://127.0.0.1:8080 --password '…' \
        --admin admin@example.org --billing billing@example.org [--screenshots docs/screenshots] [--only security]

Swift's BrowserSuiteTests starts the app and runs this; it can also be pointed at a
`medrec serve` by hand. Patients and doctors register themselves through the app."""

import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def missing_requirements():
    missing = []
    chromium = os.environ.get("MEDREC_CHROMIUM", "/usr/bin/chromium")
    driver = os.environ.get("MEDREC_CHROMEDRIVER", "/usr/bin/chromedriver")
    if not os.access(chromium, os.X_OK):
        missing.append(f"Chromium ({chromium}): apt-get install chromium")
    if not os.access(driver, os.X_OK):
        missing.append(f"chromedriver ({driver}): apt-get install chromium-driver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium: pip install selenium")
    try:
        import axe_selenium_python  # noqa: F401
    except ImportError:
        missing.append("axe-core: pip install axe-selenium-python")
    return missing


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--password", required=True, help="the password of --admin and --billing (and of the accounts the suite registers)")
    parser.add_argument("--admin", required=True, help="an active admin account's email")
    parser.add_argument("--billing", required=True, help="an active billing account's email")
    parser.add_argument("--screenshots", help="folder for the PNG screenshots (none taken without it)")
    parser.add_argument("--only", help="run only test modules/classes/methods whose id contains this")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()

    missing = missing_requirements()
    if missing:
        print("The browser suite cannot run; install: " + "; ".join(missing), file=sys.stderr)
        return 2

    sys.path.insert(0, HERE)
    from support import Config, reachable

    Config.base_url = args.base_url.rstrip("/")
    Config.password = args.password
    Config.admin = args.admin
    Config.billing = args.billing
    Config.screenshots = os.path.abspath(args.screenshots) if args.screenshots else None
    port = int(Config.base_url.rsplit(":", 1)[-1].split("/")[0]) if Config.base_url.count(":") > 1 else 80
    if not reachable(Config.host(), port):
        # The test listener may bind "localhost" as ::1 only.
        if reachable("localhost", port):
            Config.base_url = Config.base_url.replace(Config.host(), "localhost", 1)
        else:
            print(f"nothing answers at {Config.base_url}", file=sys.stderr)
            return 2

    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if args.only:
        def flatten(tests):
            for test in tests:
                if isinstance(test, unittest.TestSuite):
                    yield from flatten(test)
                else:
                    yield test
        suite = unittest.TestSuite(t for t in flatten(suite) if args.only in t.id())
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    print(f"browser suite: {result.testsRun} run, {len(result.failures)} failed, {len(result.errors)} errors, "
          f"{len(result.skipped)} skipped; base URL {Config.base_url}")
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
