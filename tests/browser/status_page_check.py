#!/usr/bin/env python3
"""The status page (GET /) in a real headless Chromium, driven through chromium-driver.

Run by tests/integration/status_test.cpp against a running popgate daemon and a real Dovecot:
  status_page_check.py --base URL --token TOKEN --good ACCOUNT --failing ACCOUNT --out DIR
Checks that the page renders every account with its state in colour and text, that the failing
account shows the server's words and a hint, that the token leaves the URL and stays in the tab,
that "Poll now" answers 202 (then 429 for the second click), that dark mode and a phone-sized
viewport work, that with a `cluster` section (replicas sharing a ledger) each card says which
replica holds the account and until when and a `fenced` error gets its hint, and that the browser
logged no error besides that expected 429. Writes DIR/status-page.png (desktop, light),
DIR/status-page-phone-dark.png and DIR/status-page-cluster.png. Prints "POLLED <account>"
after the accepted poll-now. Exit 0 when all holds, 1 with the reasons otherwise.
Nothing is downloaded: Debian's chromium and chromedriver are used by path.
"""
import argparse
import json
import os
import sys
import tempfile

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_S = 30

failures = []

# Injected before the page's own script: the daemon's real /status answer with a cluster section
# added, as a replica on a shared ledger sends it (replica-b answering; GOOD held by it for 20 s
# more, FAILING's lease by replica-a lapsed 12 s ago), FAILING's last error made "fenced", and GOOD
# in the middle of a pass (its live progress).
CLUSTER_SHIM = """
(() => {
  const good = %(good)s, failing = %(failing)s;
  const realFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const response = await realFetch(input, init);
    if (String(input) !== "/status" || !response.ok) return response;
    const status = await response.json();
    const now = Date.parse(status.now);
    const at = (s) => new Date(now + s * 1000).toISOString().replace(/[.][0-9]+Z$/, "Z");
    status.cluster = {replica: "replica-b", replicas: ["replica-a", "replica-b", "replica-c"],
                      leases: [{account: good, holder: "replica-b", epoch: 2, expires: at(20)},
                               {account: failing, holder: "replica-a", epoch: 5, expires: at(-12)}]};
    for (const a of status.accounts) if (a.name === failing) a.last_error_kind = "fenced";
    for (const a of status.accounts) {
      if (a.name !== good) continue;
      a.state = "polling";
      a.progress = {phase: "delivering", listed: 1204, total: 1204, total_bytes: 167772160,
                    done: 312, done_bytes: 43200000, delivered: 310};
    }
    return new Response(JSON.stringify(status), {status: 200, headers: {"Content-Type": "application/json"}});
  };
})();
"""


def check(ok, what):
    if not ok:
        failures.append(what)
    return ok


# The page re-renders its cards every few seconds, so elements go stale: reads are done in one
# script call, and clicks are retried on a fresh element.
def text_of(driver, name, selector):
    return driver.execute_script(
        "const n = document.querySelector("
        "'section.account[data-account=\"' + arguments[0] + '\"] ' + arguments[1]);"
        "return n ? n.textContent : '';", name, selector)


def style_of(driver, name, selector, prop):
    return driver.execute_script(
        "const n = document.querySelector("
        "'section.account[data-account=\"' + arguments[0] + '\"] ' + arguments[1]);"
        "return n ? getComputedStyle(n).getPropertyValue(arguments[2]) : '';", name, selector, prop)


def click(driver, name, selector):
    for _ in range(20):
        try:
            driver.find_element(
                By.CSS_SELECTOR, f'section.account[data-account="{name}"] {selector}').click()
            return
        except StaleElementReferenceException:
            continue
    failures.append(f"could not click {selector} of {name}")


def wait_until(driver, what, predicate):
    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.2).until(lambda d: predicate(d))
    except TimeoutException:
        failures.append(f"timed out after {WAIT_S} s waiting for: {what}")
        return None


def start_browser(profile_dir):
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-extensions", "--disable-background-networking",
                "--window-size=1280,900", f"--user-data-dir={profile_dir}"):
        options.add_argument(arg)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses its sandbox as root (tests only)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)  # http://127.0.0.1:PORT
    parser.add_argument("--token", required=True)
    parser.add_argument("--good", required=True)
    parser.add_argument("--failing", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="popgate-chromium-") as profile:
        driver = start_browser(profile)
        try:
            run(driver, args)
        finally:
            driver.quit()
    if failures:
        for f in failures:
            print("FAIL:", f)
        return 1
    print("status page OK")
    return 0


def run(driver, args):
    good, failing = args.good, args.failing
    driver.get(f"{args.base}/#token={args.token}")
    if not wait_until(driver, "both account cards", lambda d: len(d.find_elements(
            By.CSS_SELECTOR, f'section.account[data-account="{good}"],'
                             f'section.account[data-account="{failing}"]')) == 2):
        print(driver.page_source)
        return

    # The token left the address bar (and with it history and any copied link).
    check("token=" not in driver.current_url, f"token still in the URL: {driver.current_url}")

    # States in text and colour; the failing account with the server's words and a hint.
    wait_until(driver, f"{failing} shown as failing",
               lambda d: text_of(d, failing, ".state") == "failing")
    good_state = text_of(driver, good, ".state")
    check(good_state in ("idle", "delivering"), f"{good} state reads {good_state!r}")
    check(style_of(driver, good, ".state", "color") != style_of(driver, failing, ".state", "color"),
          "failing and healthy states have the same colour")
    error = text_of(driver, failing, ".error .message")
    check("Authentication failed" in error, f"{failing} error lacks the server's words: {error!r}")
    hint = text_of(driver, failing, ".error .hint")
    check("password" in hint, f"{failing} hint does not say what to do: {hint!r}")
    check(text_of(driver, good, ".error .message") == "", f"{good} shows an error")
    check(text_of(driver, failing, ".route") != "" and "\u2192" in text_of(driver, good, ".route"),
          "host \u2192 folder missing")
    target = driver.find_element(By.ID, "targets").text
    check("accepting uploads" in target and "No daily upload limit" in target,
          f"the target's state is not shown: {target!r}")
    summary = driver.find_element(By.ID, "summary").text
    check("1 failing" in summary, f"summary does not count the failing account: {summary!r}")
    hover = driver.execute_script(
        "const t = document.querySelector('section.account[data-account=\"' + arguments[0] +"
        "'\"] time'); return t ? t.title : '';", good)
    check(hover != "", "last success has no exact time on hover")
    driver.save_screenshot(os.path.join(args.out, "status-page.png"))

    # Poll now: 202 for the first click, 429 for a second one within the interval.
    click(driver, good, "button.poll")
    if wait_until(driver, "202 after Poll now",
               lambda d: text_of(d, good, ".answer").startswith("202")):
        print(f"POLLED {good}", flush=True)
    click(driver, good, "button.poll")
    wait_until(driver, "429 after a second Poll now",
               lambda d: text_of(d, good, ".answer").startswith("429"))

    # The token stays in this tab: a reload without the fragment still shows the accounts.
    driver.get(f"{args.base}/")
    wait_until(driver, "accounts after a reload without the fragment",
               lambda d: len(d.find_elements(By.CSS_SELECTOR, "section.account")) == 2)

    # A phone in dark mode: dark background, nothing wider than the screen.
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    driver.get(f"{args.base}/")
    wait_until(driver, "accounts on the phone",
               lambda d: len(d.find_elements(By.CSS_SELECTOR, "section.account")) == 2)
    background = driver.execute_script(
        "return getComputedStyle(document.body).backgroundColor")
    check(background == "rgb(15, 18, 22)", f"dark mode background is {background}")
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    check(overflow <= 0, f"the page is {overflow} px wider than a phone")
    driver.save_screenshot(os.path.join(args.out, "status-page-phone-dark.png"))

    # Replicas sharing a ledger: the cluster line, who holds each account and until when, and
    # what a fenced pass means.
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {
        "source": CLUSTER_SHIM % {"good": json.dumps(good), "failing": json.dumps(failing)}})
    driver.get(f"{args.base}/")
    cluster = wait_until(driver, "the cluster line", lambda d: d.execute_script(
        "const c = document.getElementById('cluster'); return c && !c.hidden ? c.textContent : '';"))
    check(cluster and "3 replicas" in cluster and "replica-a, replica-b, replica-c" in cluster
          and "from replica-b, which holds 1 of 2 accounts" in cluster,
          f"the cluster line reads {cluster!r}")
    held = text_of(driver, good, ".lease")
    check(held.startswith("replica-b (this replica), lease until in "),
          f"{good}'s holder reads {held!r}")
    lapsed = text_of(driver, failing, ".lease .warn")
    check(lapsed.startswith("held by no replica: replica-a's lease ended ") and "ago" in lapsed,
          f"{failing}'s lapsed lease reads {lapsed!r}")
    hint = text_of(driver, failing, ".error .hint")
    check("Another replica took this account over" in hint and "resolves itself" in hint,
          f"the fenced hint reads {hint!r}")
    progress = text_of(driver, good, ".progress")
    check(progress == "polling now: 312/1,204 msgs \u00b7 41.2 MiB of 160.0 MiB",
          f"{good}'s running pass reads {progress!r}")
    driver.save_screenshot(os.path.join(args.out, "status-page-cluster.png"))

    # No console errors: CSP violations and script errors are SEVERE; the one expected entry is
    # the network log line for the refused (429) second poll-now.
    for entry in driver.get_log("browser"):
        expected = "/poll" in entry["message"] and "429" in entry["message"]
        if entry["level"] in ("SEVERE", "WARNING") and not expected:
            failures.append(f"browser log: {entry['level']} {entry['message']}")


if __name__ == "__main__":
    sys.exit(main())
