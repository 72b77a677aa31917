#!/usr/bin/env python3
"""The butler's handheld page in a real browser (issue 16).

Drives headless Chromium at 360x640 through `butler ui`: opens Today, creates a building-patrol
form, marks one item ok and one defect with a note, attaches a photo, submits -- the page being
served while the sync server is down -- then, once the caller has started the server (it waits
for the file named by --server-up to exist, after this script created --offline-done), presses "sync now" and waits for it to finish.

    handheld.py --url http://127.0.0.1:PORT/ --screens DIR --photo FILE --offline-done FILE --server-up FILE \
        --form-id-out FILE --synced FILE --reviewed FILE

When the form is on the server it creates --synced and waits for --reviewed (a supervisor reviewed
it), syncs again and checks the page shows the form reviewed with the review note.

Saves one PNG per step into --screens (handheld-today.png, -form.png, -defect.png, -submitted.png,
-offline-sync.png, -sync.png, -reviewed.png) and exits non-zero with a clear message on the first failed step.
Every wait is bounded.
"""
import argparse
import os
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 30


def fail(step, message):
    print(f"handheld.py: FAILED at {step}: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--screens", required=True)
    parser.add_argument("--photo", required=True, help="where to write the JPEG the butler attaches")
    parser.add_argument("--offline-done", required=True, help="a file this script creates once the offline steps are done")
    parser.add_argument("--server-up", required=True, help="a file the caller creates once the server runs")
    parser.add_argument("--form-id-out", required=True)
    parser.add_argument("--synced", required=True, help="a file this script creates once the form is on the server")
    parser.add_argument("--reviewed", required=True, help="a file the caller creates once a supervisor reviewed the form")
    parser.add_argument("--opened", help="when given: the form is opened with the server up and synced at once, "
                        "then this script writes the form id to this file and waits for --offline before going on")
    parser.add_argument("--offline", help="a file the caller creates once the server is down (with --opened)")
    args = parser.parse_args()
    os.makedirs(args.screens, exist_ok=True)
    base = args.url.rstrip("/")

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=360,640", "--lang=zh-CN"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(WAIT)
    # Headless Chromium keeps windows at least 500 px wide: emulate the handheld's 360x640 screen
    # (a touch device, as the butler's) so the layout and the screenshots are what the butler sees.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 360, "height": 640, "deviceScaleFactor": 1, "mobile": True})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})
    wait = WebDriverWait(driver, WAIT)
    step = "start"

    def shot(name):
        path = os.path.join(args.screens, f"handheld-{name}.png")
        if not driver.save_screenshot(path):
            fail(step, f"could not save {path}")

    def find(css):
        return wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def tap(css):
        element = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, css)))
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def check_no_error():
        errors = driver.find_elements(By.ID, "error-message")
        if errors:
            fail(step, f"the page shows an error: {errors[0].text}")

    def hand_over(step, mark_out, value, mark_in):
        """Writes `value` to `mark_out` for the caller, then waits (bounded) for `mark_in`."""
        if mark_out:
            with open(mark_out, "w") as out:
                out.write(value)
        deadline = time.time() + 3 * WAIT
        while not os.path.exists(mark_in):
            if time.time() > deadline:
                fail(step, f"{mark_in} did not appear within {3 * WAIT} s")
            time.sleep(0.1)

    def sync_now(step):
        """Presses "sync now" on the sync page; the sync must finish."""
        driver.get(base + "/sync")
        previous = driver.find_elements(By.ID, "sync-outcome")
        tap("#sync-now")
        if previous:
            wait.until(EC.staleness_of(previous[0]))
        outcome = wait.until(EC.presence_of_element_located((By.ID, "sync-outcome")))
        if "同步完成" not in outcome.text:
            fail(step, f"the sync did not finish: {outcome.text!r}")

    try:
        step = "make the photo"
        # A real JPEG, drawn on a canvas and encoded by the browser's own JPEG encoder: a dark
        # stairwell with one lamp out. The caller compares the server's copy with these bytes.
        import base64
        driver.get("about:blank")
        data_url = driver.execute_script("""
            var c = document.createElement('canvas'); c.width = 320; c.height = 240;
            var g = c.getContext('2d');
            g.fillStyle = '#2b2b30'; g.fillRect(0, 0, 320, 240);
            g.fillStyle = '#8d8d80'; for (var i = 0; i < 8; i++) g.fillRect(20 + i * 30, 200 - i * 22, 60, 10);
            g.fillStyle = '#f5e6a8'; g.beginPath(); g.arc(60, 40, 14, 0, 7); g.fill();
            g.fillStyle = '#444'; g.beginPath(); g.arc(260, 40, 14, 0, 7); g.fill();
            return c.toDataURL('image/jpeg', 0.85);""")
        if not data_url.startswith("data:image/jpeg;base64,"):
            fail(step, "the browser did not encode a JPEG")
        with open(args.photo, "wb") as out:
            out.write(base64.b64decode(data_url.split(",", 1)[1]))

        step = "today"
        driver.get(base + "/")
        find("#new-form")
        width = driver.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
        if width[0] != 360 or width[1] > 360:
            fail(step, f"the page should fit a 360 px screen: viewport {width[0]} px, content {width[1]} px")
        shot("today")

        step = "new form"
        tap("#new-form")
        find("input[name=template][value=building-patrol]").click()
        find("#place").send_keys("3号楼2单元 楼梯间")
        tap("#create")
        wait.until(EC.url_contains("/forms/form-"))
        check_no_error()
        form_url = driver.current_url.split("#")[0]
        form_id = form_url.rstrip("/").rsplit("/", 1)[1]
        with open(args.form_id_out, "w") as out:
            out.write(form_id)
        status = find("#form-status").text
        if status != "草稿":
            fail(step, f"a new form should be a draft, the page says {status!r}")
        shot("form")

        if args.opened:
            # Opened at the gate, where there is coverage: "sync now" sends it, so colleagues have
            # it too; then the butler walks into the basement.
            step = "sync the new form"
            sync_now(step)
            step = "wait for the server to go"
            hand_over(step, args.opened, form_id, args.offline)
            driver.get(form_url)
            find("#form-status")

        step = "mark ok"
        tap("#item-water-meter button[value=ok]")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#item-water-meter button.ok.on")))
        check_no_error()

        step = "mark defect with a note"
        find("#item-stairwell-lights textarea[name=note]").send_keys("3F 走廊灯不亮")
        tap("#item-stairwell-lights button[value=defect]")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#item-stairwell-lights button.defect.on")))
        check_no_error()
        if "3F 走廊灯不亮" not in find("#item-stairwell-lights").text:
            fail(step, "the note is not shown on the item")

        step = "attach a photo"
        find("#item-stairwell-lights input[type=file]").send_keys(os.path.abspath(args.photo))
        tap("#item-stairwell-lights button.photo")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#item-stairwell-lights img.thumb")))
        check_no_error()
        loaded = wait.until(lambda d: d.execute_script(
            "var i = document.querySelector('#item-stairwell-lights img.thumb'); return i.complete && i.naturalWidth > 0"))
        if not loaded:
            fail(step, "the photo thumbnail did not load")
        driver.execute_script("document.querySelector('#item-stairwell-lights').scrollIntoView({block: 'start'}); window.scrollBy(0, -56)")
        time.sleep(0.2)
        shot("defect")

        step = "submit"
        tap("#submit-form")
        wait.until(EC.text_to_be_present_in_element((By.ID, "form-status"), "已提交"))
        check_no_error()
        driver.execute_script("window.scrollTo(0, 0)")
        shot("submitted")

        step = "sync while offline"
        driver.get(base + "/sync")
        tap("#sync-now")
        outcome = wait.until(EC.presence_of_element_located((By.ID, "sync-outcome")))
        if "离线" not in outcome.text:
            fail(step, f"with the server down the page should say offline, it says {outcome.text!r}")
        if find("#pending-edits").text.strip() in ("", "0"):
            fail(step, "edits made offline should be pending")
        shot("offline-sync")

        step = "wait for the server"
        hand_over(step, args.offline_done, form_id, args.server_up)

        step = "sync now"
        sync_now(step)
        pending = find("#pending-edits").text.strip()
        if pending != "0":
            fail(step, f"{pending} edit(s) still pending after the sync")
        shot("sync")

        step = "wait for the review"
        hand_over(step, args.synced, form_id, args.reviewed)

        step = "sync the review back"
        sync_now(step)
        driver.get(form_url)
        status = find("#form-status").text
        if status != "已审核":
            fail(step, f"the form should show reviewed, the page says {status!r}")
        if "灯具已报修" not in driver.find_element(By.TAG_NAME, "main").text:
            fail(step, "the supervisor's review note is not on the page")
        shot("reviewed")
        print(form_id)
    except WebDriverException as error:
        try:
            shot("failure")
        except Exception:
            pass
        fail(step, f"{type(error).__name__}: {error.msg if hasattr(error, 'msg') else error}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
