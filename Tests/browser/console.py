#!/usr/bin/env python3
"""Drives the supervisor console in headless Chromium (issue 16).

Usage:
  console.py main   BASE_URL NAME PASSWORD FORM_ID NOTE SCREENSHOT_DIR
  console.py expiry BASE_URL NAME PASSWORD WAIT_SECONDS SCREENSHOT_DIR
  console.py review BASE_URL NAME PASSWORD FORM_ID NOTE SCREENSHOT_DIR

`main`: a wrong password shows an error; sign in; the zone overview lists the form; the form page
shows a loaded photo thumbnail and the conflict explained; review with NOTE; the overdue and the
devices pages open. `expiry`: sign in, wait past the session's lifetime, reload: back at the
sign-in page. `review`: only the supervisor's part of `main` (sign in, the form, review), for a
form the butler filled on the handheld page. A PNG per step goes to SCREENSHOT_DIR. Exits non-zero naming the failed step.
"""
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = 20


def fail(step, message):
    print(f"console.py: step '{step}' failed: {message}", file=sys.stderr)
    sys.exit(1)


def browser(width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}", "--lang=zh-CN"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    return driver


class Run:
    def __init__(self, driver, base, shots):
        self.driver, self.base, self.shots = driver, base.rstrip("/"), shots
        self.wait = WebDriverWait(driver, TIMEOUT)

    def shot(self, name):
        path = os.path.join(self.shots, f"console-{name}.png")
        # The whole page: the window grows to the document's height (bounded) for the picture.
        width = self.driver.get_window_size()["width"]
        self.driver.set_window_size(width, 700)
        height = min(self.driver.execute_script("return document.documentElement.scrollHeight"), 4000)
        self.driver.set_window_size(width, max(height + 120, 700))
        self.driver.save_screenshot(path)
        print(f"screenshot {path}")

    def open(self, path):
        self.driver.get(self.base + path)

    def until(self, step, condition):
        try:
            return self.wait.until(condition)
        except Exception as error:  # a bounded wait ran out
            fail(step, f"{type(error).__name__} at {self.driver.current_url}: {self.driver.page_source[:600]!r}")

    def sign_in(self, step, name, password):
        self.open("/console")
        self.until(step, EC.presence_of_element_located((By.ID, "login")))
        self.driver.find_element(By.ID, "name").clear()
        self.driver.find_element(By.ID, "name").send_keys(name)
        self.driver.find_element(By.ID, "password").send_keys(password)
        self.driver.find_element(By.ID, "signin").click()


def review_form(run, driver, form_id, note):
    """From the overview: open the form, see its photo and its conflict explained, review it with a note."""
    driver.find_element(By.CSS_SELECTOR, f"a.form-link[href='/console/forms/{form_id}']").click()
    run.until("form", EC.presence_of_element_located((By.ID, "review-form")))
    thumb = run.until("form", EC.presence_of_element_located((By.CSS_SELECTOR, "img.thumb")))
    driver.execute_script("arguments[0].scrollIntoView()", thumb)
    run.until("photo", lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", thumb))
    explanations = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#conflicts .explanation")]
    if not explanations or not all(explanations):
        fail("conflict", "no conflict explained on the form page")
    driver.execute_script("window.scrollTo(0, 0)")
    run.shot("form")

    driver.find_element(By.ID, "note").send_keys(note)
    driver.find_element(By.ID, "review").click()
    done = run.until("review", EC.presence_of_element_located((By.CSS_SELECTOR, "#message.done")))
    status = driver.find_element(By.ID, "status").text
    if status != "已审核":
        fail("review", f"the status reads {status!r} after review ({done.text!r})")
    if note not in driver.find_element(By.ID, "review-notes").text:
        fail("review", "the review note is not shown")
    run.shot("reviewed")


def review(base, name, password, form_id, note, shots):
    """Only the supervisor's part: sign in, find the form in its zone, review it."""
    driver = browser(1280, 900)
    try:
        run = Run(driver, base, shots)
        run.sign_in("sign in", name, password)
        run.until("sign in", EC.presence_of_element_located((By.CSS_SELECTOR, "section.zone")))
        run.shot("overview")
        review_form(run, driver, form_id, note)
    finally:
        driver.quit()


def main(base, name, password, form_id, note, shots):
    driver = browser(1280, 900)
    try:
        run = Run(driver, base, shots)
        # A wrong password: an error on the sign-in page, no session.
        run.sign_in("wrong password", name, password + "x")
        message = run.until("wrong password", EC.presence_of_element_located((By.ID, "message")))
        if "不正确" not in message.text:
            fail("wrong password", f"the error says {message.text!r}")
        run.open("/console")
        run.until("wrong password", EC.presence_of_element_located((By.ID, "login")))
        run.shot("login")

        run.sign_in("sign in", name, password)
        run.until("sign in", EC.presence_of_element_located((By.CSS_SELECTOR, "section.zone")))
        links = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "a.form-link")]
        if not any(link.endswith("/console/forms/" + form_id) for link in links):
            fail("overview", f"the zone does not list {form_id}: {links}")
        run.shot("overview")

        review_form(run, driver, form_id, note)

        run.open("/console/overdue")
        run.until("overdue", EC.presence_of_element_located((By.ID, "overdue")))
        for section in ["overdue", "due-soon"]:
            if not driver.find_elements(By.CSS_SELECTOR, f"#{section} td a"):
                fail("overdue", f"the {section} list is empty")
        run.shot("overdue")
        run.open("/console/devices")
        run.until("devices", EC.presence_of_element_located((By.CSS_SELECTOR, "tr[id^='device-']")))
        # A butler's mistaken review is pending: its record, code and the handled button.
        refusals = driver.find_elements(By.CSS_SELECTOR, "tr[id^='refusal-']")
        if len(refusals) != 1 or "role-forbidden" not in refusals[0].text or form_id not in refusals[0].text:
            fail("devices", f"expected one pending role-forbidden refusal of {form_id}: {[r.text for r in refusals]}")
        run.shot("devices")
        refusals[0].find_element(By.CSS_SELECTOR, "button[type='submit']").click()
        run.until("devices", EC.staleness_of(refusals[0]))
        run.until("devices", EC.presence_of_element_located((By.CSS_SELECTOR, "tr[id^='device-']")))
        if driver.find_elements(By.CSS_SELECTOR, "tr[id^='refusal-']"):
            fail("devices", "the refusal is still listed after 已处理")

        # The tablet: the form page at 800 px wide stays readable (no horizontal scrolling).
        driver.set_window_size(800, 1280)
        run.open(f"/console/forms/{form_id}")
        run.until("tablet", EC.presence_of_element_located((By.ID, "status")))
        overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            fail("tablet", f"the page scrolls sideways by {overflow}px at 800px")
        run.shot("form-tablet")
    finally:
        driver.quit()


def expiry(base, name, password, wait_seconds, shots):
    driver = browser(1280, 900)
    try:
        run = Run(driver, base, shots)
        run.sign_in("sign in", name, password)
        run.until("sign in", EC.presence_of_element_located((By.CSS_SELECTOR, "section.zone")))
        time.sleep(wait_seconds)
        run.open("/console/devices")
        run.until("expired", EC.presence_of_element_located((By.ID, "login")))
        if not driver.current_url.endswith("/console/login"):
            fail("expired", f"an expired session ended at {driver.current_url}")
        run.shot("expired")
    finally:
        driver.quit()


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "main":
        main(*sys.argv[2:8])
    elif len(sys.argv) == 8 and sys.argv[1] == "review":
        review(*sys.argv[2:8])
    elif len(sys.argv) == 7 and sys.argv[1] == "expiry":
        expiry(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), sys.argv[6])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print("console.py: all steps passed")
