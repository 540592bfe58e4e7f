#!/usr/bin/python3
"""The portal in a real browser (DESIGN §8), end to end.

Starts a private Dovecot (scripts/dovecot-up) and the SMTP sink that
delivers into its mailboxes (scripts/smtp-sink), runs `ticketd run` with
IMAP, SMTP and the portal on free loopback ports, and drives headless
Chromium through Selenium the way customers would:

  1. Ann mails support (Bob on Cc); her password-setup mail is read from her
     own mailbox over IMAP;
  2. she follows the link, chooses a password, lands on "My activities";
  3. replies on ticket #1 with an attachment, adds Carol on Cc, marks it
     solved;
  4. opens a new ticket from the form with priority, category and the
     "Error code ID" field;
  5. Bob, a watcher, receives her web reply by mail;
  6. Zoe (made an org admin with `ticketd users set-role`) sees and opens
     Ann's ticket; Eve, of another organization, gets the 404 page.

Every wait is bounded (30 s), the whole run too (TOTAL_SECONDS). On a
failure: a screenshot and the page source of every open browser, and the
daemon's log, go to target/browser-failures/<time>/, and the exit is 1.

Usage: tests/browser/run [--screens DIR]   (DIR: also save the portal's
screenshots there, as docs/screens/ holds them). Env: TICKETD_BIN (default
target/debug/ticketd), KEEP=1 keeps the temp folder.
Runs with Debian's /usr/bin/python3 (python3-selenium, chromium,
chromium-driver: scripts/setup installs them).
"""
import email
import email.policy
import imaplib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("TICKETD_BIN", ROOT / "target/debug/ticketd"))
FAILURES = ROOT / "target/browser-failures"
WAIT = 30  # seconds, for any one thing to happen
TOTAL_SECONDS = 240  # the whole test
STOP_SECONDS = 30  # each server's stop (dovecot-down itself waits up to 10 s)
PASSWORDS = {
    "ann@acme.test": "correct horse battery",
    "zoe@acme.test": "zoe's long passphrase",
    "eve@other.test": "eve's long passphrase",
}
PEOPLE = ["ann@acme.test", "bob@acme.test", "carol@acme.test", "zoe@acme.test", "eve@other.test"]
REPLY = "Here is the printer's log: the paper tray jammed at 09:14 and the fan stopped."
ATTACHMENT = b"09:14:02 tray 2: paper jam\n09:14:05 fan: stopped\n"


class Failed(Exception):
    """A check that did not hold; the message says what was expected."""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def log(msg):
    print(msg, flush=True)


class Servers:
    """Dovecot, the SMTP sink and `ticketd run`, in one temp folder."""

    def __init__(self):
        self.work = Path(tempfile.mkdtemp(prefix="ticketd-browser-"))
        os.chmod(self.work, 0o755)  # Dovecot's own users must reach its state
        self.state = self.work / "dovecot"
        self.sent = self.work / "sent"
        self.imap_port = free_port()
        self.smtp_port = free_port()
        self.web_port = free_port()
        self.base = "http://127.0.0.1:%d" % self.web_port
        self.config = self.work / "ticketd.toml"
        self.daemon = None
        self.daemon_log = self.work / "run.log"
        self.dovecot_started = self.sink_started = False

    def script(self, *args, env=None, log_name):
        # Output to a file, never a pipe: the servers daemonize and would keep it open.
        out = self.work / log_name
        with open(out, "wb") as f:
            r = subprocess.run([str(ROOT / "scripts" / args[0]), *args[1:]], stdout=f,
                               stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                               timeout=WAIT)
        if r.returncode != 0:
            raise Failed("scripts/%s failed:\n%s" % (" ".join(args), out.read_text(errors="replace")))

    def start(self):
        self.dovecot_started = True
        self.script("dovecot-up", str(self.state), str(self.imap_port), "0",
                    env={"EXTRA_USERS": " ".join(PEOPLE)}, log_name="dovecot-up.log")
        self.sink_started = True
        self.script("smtp-sink", "start", str(self.sent), str(self.smtp_port),
                    env={"SINK_MAILDIR_ROOT": str(self.state / "mail"), "SINK_MAX_SECONDS": "600"},
                    log_name="sink-up.log")
        self.config.write_text(f"""[store]
path = "ticketd.db"

[support]
address = "support@example.test"
name = "Example Support"
agents = ["agent@example.test"]
portal_url = "{self.base}"

[imap]
host = "127.0.0.1"
port = {self.imap_port}
security = "none"
username = "support@example.test"
password = "secret"
timeout_secs = 10

[smtp]
host = "127.0.0.1"
port = {self.smtp_port}
security = "none"
timeout_secs = 10

[portal]
listen = "127.0.0.1:{self.web_port}"
categories = ["Billing", "Export"]

[[portal.fields]]
name = "error_code"
label = "Error code ID"
required = false
pattern = "^[A-Z]-?[0-9]{{3,5}}$"
""")
        with open(self.daemon_log, "wb") as f:
            self.daemon = subprocess.Popen([str(BIN), "--config", str(self.config), "run"],
                                           stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                           cwd=self.work)
        deadline = time.monotonic() + WAIT
        while True:
            text = self.daemon_log.read_text(errors="replace")
            if "connected to the mailbox" in text and "portal listening" in text:
                break
            if self.daemon.poll() is not None:
                raise Failed("ticketd run exited with %s:\n%s" % (self.daemon.returncode, text))
            if time.monotonic() > deadline:
                raise Failed("ticketd run did not connect to the mailbox and serve the portal in %d s:\n%s"
                             % (WAIT, text))
            time.sleep(0.1)

    def ticketd(self, *args):
        r = subprocess.run([str(BIN), "--config", str(self.config), *args], capture_output=True,
                           text=True, timeout=WAIT)
        if r.returncode != 0:
            raise Failed("ticketd %s: exit %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r.stdout

    def stop(self):
        """Stops whatever was started, each part whatever happened to the others."""
        def quietly(what, fn):
            try:
                fn()
            except Exception as e:
                log("!! stopping %s: %s" % (what, e))

        def daemon():
            if self.daemon and self.daemon.poll() is None:
                self.daemon.send_signal(signal.SIGTERM)
                try:
                    code = self.daemon.wait(15)
                    if code != 0:
                        log("!! ticketd run exited %d on SIGTERM" % code)
                except subprocess.TimeoutExpired:
                    log("!! ticketd run did not stop in 15 s on SIGTERM: killed")
                    self.daemon.kill()
                    self.daemon.wait()

        def script(*args):
            subprocess.run([str(ROOT / "scripts" / args[0]), *args[1:]], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=STOP_SECONDS)

        quietly("ticketd run", daemon)
        if self.sink_started:
            quietly("the SMTP sink", lambda: script("smtp-sink", "stop", str(self.sent)))
        if self.dovecot_started:
            quietly("Dovecot", lambda: script("dovecot-down", str(self.state)))
        if os.environ.get("KEEP") == "1":
            log("kept in %s" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    # --- mail, over IMAP as a person's mail client reads it -------------

    def imap(self, user):
        for _ in range(40):  # Dovecot's auth service may still be starting
            try:
                m = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=WAIT)
                m.login(user, "secret")
                return m
            except (imaplib.IMAP4.error, OSError):
                time.sleep(0.25)
        raise Failed("cannot log in to the private Dovecot as %s" % user)

    def append(self, raw):
        m = self.imap("support@example.test")
        m.append("INBOX", None, None, raw.replace("\n", "\r\n").encode())
        m.logout()

    def mails(self, user, kind):
        m = self.imap(user)
        m.select("INBOX", readonly=True)
        _, ids = m.search(None, "HEADER", "X-Ticketd-Kind", kind)
        out = []
        for i in ids[0].split():
            _, data = m.fetch(i, "(BODY.PEEK[])")
            out.append(email.message_from_bytes(data[0][1], policy=email.policy.default))
        m.logout()
        return out

    def wait_mail(self, user, kind, contains=None):
        """The first `kind` mail in `user`'s inbox (whose text holds `contains`); its text."""
        deadline = time.monotonic() + WAIT
        while True:
            for msg in self.mails(user, kind):
                text = msg.get_body(("plain",)).get_content()
                if contains is None or contains in " ".join(text.split()):
                    return text
            if time.monotonic() > deadline:
                seen = [m["Subject"] for m in self.mails(user, kind)]
                raise Failed("no %s mail%s reached %s in %d s (its %s mails: %s)"
                             % (kind, " with %r" % contains if contains else "", user, WAIT, kind, seen))
            time.sleep(0.2)

    def setup_link(self, user):
        text = self.wait_mail(user, "password_setup")
        pattern = re.escape(self.base) + r"/password/setup\?token=[0-9a-f]{64}(?![0-9a-zA-Z])"
        links = re.findall(pattern, text)
        if not links:
            raise Failed("%s's password_setup mail has no link %s/password/setup?token=<64 hex>:\n%s"
                         % (user, self.base, text))
        return links[0]


def customer_mail(name, addr, subject, msg_id, body, cc=None):
    return (f"From: {name} <{addr}>\nTo: support@example.test\n"
            + (f"Cc: {cc}\n" if cc else "")
            + f"Subject: {subject}\nMessage-ID: <{msg_id}>\n"
            "Date: Mon, 30 Nov 2026 09:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n"
            f"{body}\n")


class Browser:
    """One headless Chromium session with its own profile."""

    def __init__(self, name, servers, screens):
        self.name = name
        self.base = servers.base
        self.screens = screens
        profile = servers.work / ("chromium-" + name)
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--user-data-dir=%s" % profile,
                  "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                  "--no-default-browser-check", "--disable-extensions", "--password-store=basic",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,900", "--lang=en-US", "--hide-scrollbars"):
            opts.add_argument(a)
        # Chromium keeps crash reports and dconf state under $HOME whatever
        # --user-data-dir says: give it a home in the temp folder.
        home = servers.work / ("home-" + name)
        env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
               "XDG_CACHE_HOME": str(home / ".cache"), "XDG_DATA_HOME": str(home / ".local/share")}
        service = Service("/usr/bin/chromedriver", log_path=str(servers.work / ("chromedriver-%s.log" % name)),
                          env=env)
        self.d = webdriver.Chrome(service=service, options=opts)
        self.d.set_page_load_timeout(WAIT)
        self.d.set_script_timeout(WAIT)
        self.viewport(1280, 900)

    def viewport(self, width, height, mobile=False):
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def quit(self):
        try:
            self.d.quit()
        except Exception as e:  # a browser that crashed: its service is stopped anyway
            log("!! %s's browser did not quit cleanly: %s" % (self.name, e))

    def get(self, path):
        self.d.get(path if path.startswith("http") else self.base + path)

    def wait(self, what, cond):
        try:
            return WebDriverWait(self.d, WAIT, poll_frequency=0.1).until(lambda d: cond())
        except Exception as e:
            raise Failed("%s: waited %d s for %s (at %s, heading %r)"
                         % (self.name, WAIT, what, self.d.current_url, self.heading())) from e

    def heading(self):
        try:
            return self.d.find_element(By.TAG_NAME, "h1").text
        except WebDriverException:
            return None

    def css(self, selector):
        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def text_of(self, selector):
        return " ".join(e.text for e in self.css(selector))

    def fill(self, selector, value):
        el = self.css(selector)
        if not el:
            raise Failed("%s: no %s on %s" % (self.name, selector, self.d.current_url))
        el[0].clear()
        el[0].send_keys(value)

    def submit(self, form_selector):
        """Clicks the form's submit button and waits for the next page to load."""
        forms = self.css(form_selector)
        if not forms:
            raise Failed("%s: no form %s on %s" % (self.name, form_selector, self.d.current_url))
        old = self.d.find_element(By.TAG_NAME, "html")
        forms[0].find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait("the page after submitting %s" % form_selector, lambda: is_stale(old))

    def expect_heading(self, text):
        self.wait("the heading %r" % text, lambda: text in (self.heading() or ""))

    def shot(self, name):
        if not self.screens:
            return
        path = self.screens / (name + ".png")
        self.d.execute_script("document.activeElement && document.activeElement.blur()")  # no focus ring
        path.write_bytes(self.d.get_screenshot_as_png())
        log("   screenshot %s (%d KB)" % (path.relative_to(ROOT) if path.is_relative_to(ROOT) else path,
                                          path.stat().st_size // 1024))

    def fetch(self, path):
        """GET with this browser's cookies, outside the browser: (status, headers, body)."""
        cookies = "; ".join("%s=%s" % (c["name"], c["value"]) for c in self.d.get_cookies())
        req = urllib.request.Request(self.base + path, headers={"Cookie": cookies})
        try:
            with urllib.request.urlopen(req, timeout=WAIT) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def ticket_links(self):
        """Ticket numbers linked from a ticket list."""
        ids = []
        for a in self.css("table a[href^='/tickets/']"):
            m = re.fullmatch(r"/tickets/(\d+)", a.get_attribute("pathname") or "")
            if m and int(m.group(1)) not in ids:
                ids.append(int(m.group(1)))
        return ids

    def sign_up(self, link, password):
        """Follows a password-setup link, sets the password, lands on My activities."""
        self.get(link)
        self.expect_heading("Choose your password")
        self.fill("#password", password)
        self.fill("#password_confirm", password)
        self.submit("form[action='/password/setup']")
        self.expect_heading("My activities")


def is_stale(el):
    try:
        el.tag_name
        return False
    except WebDriverException:
        return True


class Run:
    def __init__(self, screens):
        self.screens = screens
        self.step = "starting"
        self.browsers = []
        self.servers = None

    def begin(self, step):
        self.step = step
        log("== " + step)

    def browser(self, name):
        b = Browser(name, self.servers, self.screens)
        self.browsers.append(b)
        return b

    def close(self, b):
        b.quit()
        self.browsers.remove(b)

    def save_failure(self):
        folder = FAILURES / time.strftime("%Y%m%d-%H%M%S")
        folder.mkdir(parents=True, exist_ok=True)
        for b in self.browsers:
            try:
                b.d.save_screenshot(str(folder / ("%s.png" % b.name)))
                (folder / ("%s.html" % b.name)).write_text(
                    "<!-- %s -->\n%s" % (b.d.current_url, b.d.page_source))
            except Exception as e:
                log("   (no screenshot of %s's browser: %s)" % (b.name, e))
        if self.servers:
            for f in ("run.log", "dovecot-up.log", "sink-up.log"):
                if (self.servers.work / f).exists():
                    shutil.copy(self.servers.work / f, folder / f)
            dlog = self.servers.state / "log/dovecot.log"
            if dlog.exists():
                shutil.copy(dlog, folder / "dovecot.log")
        return folder

    def main(self):
        t0 = time.monotonic()
        self.servers = s = Servers()
        self.begin("starting Dovecot, the SMTP sink and ticketd run (portal %s)" % s.base)
        s.start()

        self.begin("1. Ann mails support with Bob on Cc; her setup link arrives in her mailbox")
        s.append(customer_mail("Ann Customer", "ann@acme.test", "Printer on fire", "e2e-1@acme.test",
                               "Our office printer PR-7 smells of smoke. Can you help?",
                               cc="Bob Colleague <bob@acme.test>"))
        link = s.setup_link("ann@acme.test")
        log("   " + link[:len(s.base) + 30] + "…")

        self.begin("2. Ann sets her password from the link and sees ticket #1")
        ann = self.browser("ann")
        ann.get("/login")
        ann.expect_heading("Sign in")
        ann.shot("login")
        ann.sign_up(link, PASSWORDS["ann@acme.test"])
        if 1 not in ann.ticket_links():
            raise Failed("ann: ticket #1 is not in My activities (links: %s)" % ann.ticket_links())
        if "Printer on fire" not in ann.text_of("table"):
            raise Failed("ann: My activities does not show the subject 'Printer on fire'")
        # The link is single use.
        self.begin("2b. the setup link works only once")
        ann.get(link)
        ann.expect_heading("This link no longer works")

        self.begin("3. Ann replies with an attachment, adds Carol on Cc, marks #1 solved")
        ann.get("/tickets")
        ann.d.find_element(By.CSS_SELECTOR, "table a[href='/tickets/1']").click()
        ann.expect_heading("Printer on fire")
        upload = s.work / "printer-log.txt"
        upload.write_bytes(ATTACHMENT)
        ann.fill("form[action='/tickets/1/reply'] textarea[name=text]", REPLY)
        ann.css("form[action='/tickets/1/reply'] input[type=file]")[0].send_keys(str(upload))
        ann.submit("form[action='/tickets/1/reply']")
        ann.wait("her reply in the conversation", lambda: REPLY in ann.text_of(".conversation .message .text"))
        links = [a for a in ann.css(".conversation .attachments a") if a.text == "printer-log.txt"]
        if not links:
            raise Failed("ann: no link to printer-log.txt under her reply")
        href = links[0].get_attribute("pathname")
        if not re.fullmatch(r"/tickets/1/attachments/\d+", href or ""):
            raise Failed("ann: the attachment links to %r" % href)
        if "via the portal" not in ann.text_of(".conversation .message header"):
            raise Failed("ann: her reply is not marked 'via the portal'")
        status, headers, body = ann.fetch(href)
        if status != 200 or body != ATTACHMENT or not (headers.get("Content-Disposition") or "").startswith("attachment"):
            raise Failed("ann: downloading %s gave %s, %r, %r bytes" %
                         (href, status, headers.get("Content-Disposition"), len(body)))
        ann.fill("form[action='/tickets/1/cc'] input[name=email]", "carol@acme.test")
        ann.submit("form[action='/tickets/1/cc']")
        ann.wait("carol@acme.test on Cc", lambda: "carol@acme.test" in ann.text_of(".watchers"))
        if "bob@acme.test" not in ann.text_of(".watchers"):
            raise Failed("ann: Bob (Cc of her first mail) is not listed on Cc: %r" % ann.text_of(".watchers"))
        ann.submit("form[action='/tickets/1/solve']")
        ann.wait("the Solved badge", lambda: ann.text_of(".heading .badge") == "Solved")
        if ann.css("form[action='/tickets/1/solve']"):
            raise Failed("ann: 'Mark as solved' is still offered on a solved ticket")
        ann.shot("ticket")

        self.begin("4. Ann opens a new ticket with priority, category and the Error code ID field")
        ann.d.find_element(By.CSS_SELECTOR, "header.top nav a[href='/tickets/new']").click()
        ann.expect_heading("New ticket")
        if "Error code ID" not in ann.text_of("label[for='field-error_code']"):
            raise Failed("ann: the form has no 'Error code ID' field")
        ann.fill("#subject", "CSV export stops at 10,000 rows")
        ann.fill("#description", "Exporting the March invoices to CSV ends after 10,000 rows with an error.")
        Select(ann.css("#priority")[0]).select_by_value("high")
        Select(ann.css("#category")[0]).select_by_visible_text("Export")
        ann.fill("#field-error_code", "E-4711")
        ann.shot("new-ticket")
        ann.submit("form[action='/tickets']")
        ann.expect_heading("CSV export stops at 10,000 rows")
        m = re.search(r"/tickets/(\d+)$", ann.d.current_url)
        if not m:
            raise Failed("ann: after creating, the browser is at %s, not a ticket page" % ann.d.current_url)
        new_id = int(m.group(1))
        details = ann.text_of(".details dl")
        for want in ("Error code ID", "E-4711", "Export", "High"):
            if want not in details:
                raise Failed("ann: ticket #%d's details lack %r: %r" % (new_id, want, details))
        ann.get("/tickets?status=all")
        ann.expect_heading("My activities")
        if not {1, new_id} <= set(ann.ticket_links()):
            raise Failed("ann: 'All' does not list #1 and #%d: %s" % (new_id, ann.ticket_links()))
        ann.shot("my-activities")
        ann.get("/tickets/1")
        ann.expect_heading("Printer on fire")
        ann.viewport(390, 844, mobile=True)
        ann.get("/tickets/1")
        ann.expect_heading("Printer on fire")
        ann.shot("phone-ticket")
        self.close(ann)

        self.begin("5. Bob, a watcher, receives Ann's web reply by mail")
        t = time.monotonic()
        s.wait_mail("bob@acme.test", "ticket_updated", contains=" ".join(REPLY.split()))
        log("   arrived after %.1f s" % (time.monotonic() - t))

        self.begin("6. Zoe mails a ticket, becomes org admin, sees and opens Ann's #1")
        s.append(customer_mail("Zoe Admin", "zoe@acme.test", "New laptop for the office", "e2e-zoe@acme.test",
                               "We need one more laptop."))
        zoe_link = s.setup_link("zoe@acme.test")
        out = s.ticketd("users", "set-role", "zoe@acme.test", "admin")
        log("   ticketd users set-role: " + out.strip())
        zoe = self.browser("zoe")
        zoe.sign_up(zoe_link, PASSWORDS["zoe@acme.test"])
        zoe.get("/tickets?status=all")
        zoe.expect_heading("My activities")
        if 1 not in zoe.ticket_links():
            raise Failed("zoe (org admin): Ann's ticket #1 is not in her list: %s" % zoe.ticket_links())
        zoe.d.find_element(By.CSS_SELECTOR, "table a[href='/tickets/1']").click()
        zoe.expect_heading("Printer on fire")
        if REPLY not in zoe.text_of(".conversation .message .text"):
            raise Failed("zoe: ticket #1 does not show Ann's reply")
        zoe.d.find_element(By.CSS_SELECTOR, "header.top nav a[href='/org']").click()
        zoe.expect_heading("acme.test")
        people = zoe.text_of("table")
        for who in ("ann@acme.test", "zoe@acme.test"):
            if who not in people:
                raise Failed("zoe: the organization page does not list %s: %r" % (who, people))
        zoe.shot("org")
        self.close(zoe)

        self.begin("6b. Eve, of another organization, gets the 404 page for #1")
        s.append(customer_mail("Eve Other", "eve@other.test", "Question about my invoice", "e2e-eve@other.test",
                               "Where is my invoice?"))
        eve_link = s.setup_link("eve@other.test")
        eve = self.browser("eve")
        eve.sign_up(eve_link, PASSWORDS["eve@other.test"])
        mine = eve.ticket_links()
        if len(mine) != 1 or 1 in mine:
            raise Failed("eve: her list should hold her own ticket only: %s" % mine)
        eve.get("/tickets/1")
        eve.expect_heading("Not found")
        if "Printer" in eve.d.page_source or "ann@acme.test" in eve.d.page_source:
            raise Failed("eve: the 404 page shows something of ticket #1")
        status, _, _ = eve.fetch("/tickets/1")
        if status != 404:
            raise Failed("eve: GET /tickets/1 answered %d, not 404" % status)
        status, _, _ = eve.fetch(href)
        if status != 404:
            raise Failed("eve: GET %s (Ann's attachment) answered %d, not 404" % (href, status))
        self.close(eve)
        log("== passed in %.1f s" % (time.monotonic() - t0))


def main():
    screens = None
    args = sys.argv[1:]
    if args[:1] == ["--screens"] and len(args) == 2:
        screens = Path(args[1]).resolve()
        screens.mkdir(parents=True, exist_ok=True)
    elif args:
        sys.exit(__doc__)
    if not BIN.exists():
        sys.exit("browser test: %s is missing: run cargo build" % BIN)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)

    def on_alarm(_signum, _frame):
        raise Failed("the whole test took longer than %d s" % TOTAL_SECONDS)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TOTAL_SECONDS)
    run = Run(screens)
    code = 0
    try:
        run.main()
    except BaseException as e:  # noqa: B902 -- report, clean up, exit 1, whatever it was
        signal.alarm(0)
        code = 1
        log("\nFAILED at step: %s\n  %s: %s" % (run.step, type(e).__name__, e))
        if not isinstance(e, (Failed, KeyboardInterrupt)):
            traceback.print_exc()
        try:
            folder = run.save_failure()
            log("  screenshots, page sources and logs: %s" % folder)
        except Exception as e2:
            log("  (could not save the failure's screenshots: %s)" % e2)
        if run.servers and run.servers.daemon_log.exists():
            tail = run.servers.daemon_log.read_text(errors="replace").splitlines()[-25:]
            log("  ticketd run log (last lines):\n    " + "\n    ".join(tail))
    finally:
        signal.alarm(0)
        for b in list(run.browsers):
            b.quit()
        if run.servers:
            run.servers.stop()
    sys.exit(code)


if __name__ == "__main__":
    main()
