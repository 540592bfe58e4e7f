#!/usr/bin/python3
"""The portal and the agents' desk in a real browser (DESIGN §8, §9), end to end.

Starts a private Dovecot (scripts/dovecot-up) and the SMTP sink that
delivers into its mailboxes (scripts/smtp-sink), runs `ticketd run` with
IMAP, SMTP and the portal on free loopback ports, and drives headless
Chromium through Selenium the way customers and agents would:

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
The desk:
  7. an agent gets a password link (`ticketd users reset-password`) in her
     mailbox, sets her password and opens the desk;
  8. filters the queue (status, priority, organization: by the form and by
     URL) and searches it (words of a message, not of a subject);
  9. answers Ann's #1 publicly: Ann's and the watchers' mailboxes receive it;
 10. writes an internal note on #1: once the outbox is drained, no
     customer's or watcher's mailbox holds its words; then "Assign to me";
 11. sets #2 urgent and assigns it to Bea: the on-call mailbox is paged and
     Bea gets a ticket_assigned mail;
 12. Bea answers her agent alert for Zoe's ticket by mail (to its personal
     Reply-To) with `#assign me`: the ticket is hers; the same command in a
     forged mail (From Bea, to the plain support address) assigns nothing;
 13. Zoe signs in: her list and the tickets show who they are assigned to,
     Ann's #1 the agent's answer and not the note;
 14. a mail without a sender is quarantined; the agent discards it in the
     desk and `ticketd quarantine list` is empty;
 15. the agent deletes an event from #1's data log;
 16. the queue filtered by assignee: me, none, Bea.

Every wait is bounded (30 s), the whole run too (TOTAL_SECONDS). On a
failure: a screenshot and the page source of every open browser, and the
daemon's log, go to target/browser-failures/<time>/, and the exit is 1.

Usage: tests/browser/run [--screens DIR]   (DIR: also save the portal's and
the desk's screenshots there, as docs/screens/ holds them). Env: TICKETD_BIN
(default target/debug/ticketd), KEEP=1 keeps the temp folder.
Runs with Debian's /usr/bin/python3 (python3-selenium, chromium,
chromium-driver: scripts/setup installs them).
"""
import email
import email.policy
import email.utils
import imaplib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
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
    "agent@example.test": "the agent's own passphrase",
}
PEOPLE = ["ann@acme.test", "bob@acme.test", "carol@acme.test", "zoe@acme.test", "eve@other.test"]
AGENT, BEA, ONCALL = "agent@example.test", "bea@example.test", "oncall@example.test"
# Dovecot has support@ and agent@ already.
MAILBOXES = PEOPLE + [BEA, ONCALL]
REPLY = "Here is the printer's log: the paper tray jammed at 09:14 and the fan stopped."
ATTACHMENT = b"09:14:02 tray 2: paper jam\n09:14:05 fan: stopped\n"
ANSWER = "Thanks Ann: we reset the PR-7's fan controller remotely. Please print a test page and tell us."
NOTE = "Known fan defect in the March PR-7 batch; vendor case 55-8812 is open."
NOTE_WORDS = ["55-8812", "fan defect", "vendor case"]  # none of them may reach a customer
BEA_TEXT = "I'll order the laptop today and let you know when it ships."


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
                    env={"EXTRA_USERS": " ".join(MAILBOXES)}, log_name="dovecot-up.log")
        self.sink_started = True
        self.script("smtp-sink", "start", str(self.sent), str(self.smtp_port),
                    env={"SINK_MAILDIR_ROOT": str(self.state / "mail"), "SINK_MAX_SECONDS": "600"},
                    log_name="sink-up.log")
        self.config.write_text(f"""[store]
path = "ticketd.db"

[support]
address = "support@example.test"
name = "Example Support"
agents = ["{AGENT}", "{BEA}"]
oncall = "{ONCALL}"
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

    def ticketd_json(self, *args):
        out = self.ticketd(*args, "--json")
        try:
            return json.loads(out)
        except ValueError as e:
            raise Failed("ticketd %s --json printed no JSON: %s\n%s" % (" ".join(args), e, out)) from e

    def ticket(self, ticket_id):
        return self.ticketd_json("tickets", "show", str(ticket_id))

    def ticket_id(self, subject):
        ids = [t["id"] for t in self.ticketd_json("tickets", "list") if t["subject"] == subject]
        if len(ids) != 1:
            raise Failed("`ticketd tickets list` has %d tickets with the subject %r" % (len(ids), subject))
        return ids[0]

    def wait_until(self, what, cond):
        """Polls `cond` (a function) until it returns something true; that."""
        deadline = time.monotonic() + WAIT
        while True:
            got = cond()
            if got:
                return got
            if time.monotonic() > deadline:
                raise Failed("waited %d s for %s" % (WAIT, what))
            time.sleep(0.2)

    def outbox_drained(self):
        """Waits until no notification is pending: all were sent (or failed)."""
        def pending():
            return [r for r in self.ticketd_json("outbox", "list") if r["status"] == "pending"]
        deadline = time.monotonic() + WAIT
        while pending():
            if time.monotonic() > deadline:
                raise Failed("the outbox still has pending rows after %d s: %s" % (WAIT, pending()))
            time.sleep(0.2)

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

    def mails(self, user, kind=None):
        """The mails in `user`'s inbox (of one X-Ticketd-Kind), parsed."""
        m = self.imap(user)
        m.select("INBOX", readonly=True)
        _, ids = m.search(None, "HEADER", "X-Ticketd-Kind", kind) if kind else m.search(None, "ALL")
        out = []
        for i in ids[0].split():
            _, data = m.fetch(i, "(BODY.PEEK[])")
            out.append(email.message_from_bytes(data[0][1], policy=email.policy.default))
        m.logout()
        return out

    def wait_mail(self, user, kind, contains=None, subject=None):
        """The first `kind` mail in `user`'s inbox (whose text holds `contains`, whose
        subject holds `subject`); its text."""
        return self.wait_message(user, kind, contains, subject).get_body(("plain",)).get_content()

    def wait_message(self, user, kind, contains=None, subject=None):
        """Like wait_mail, but the parsed message."""
        deadline = time.monotonic() + WAIT
        while True:
            for msg in self.mails(user, kind):
                text = msg.get_body(("plain",)).get_content()
                if (contains is None or contains in " ".join(text.split())) and \
                        (subject is None or subject in str(msg["Subject"])):
                    return msg
            if time.monotonic() > deadline:
                seen = [m["Subject"] for m in self.mails(user, kind)]
                raise Failed("no %s mail%s reached %s in %d s (its %s mails: %s)"
                             % (kind, " with %r" % contains if contains else "", user, WAIT, kind, seen))
            time.sleep(0.2)

    def setup_link(self, user, kind="password_setup"):
        text = self.wait_mail(user, kind)
        pattern = re.escape(self.base) + r"/password/setup\?token=[0-9a-f]{64}(?![0-9a-zA-Z])"
        links = re.findall(pattern, text)
        if not links:
            raise Failed("%s's %s mail has no link %s/password/setup?token=<64 hex>:\n%s"
                         % (user, kind, self.base, text))
        return links[0]


def texts(msg):
    """Every text part of a mail, decoded, whitespace made single spaces."""
    out = [str(msg["Subject"] or "")]
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            try:
                out.append(part.get_content())
            except (LookupError, ValueError):
                out.append(part.get_payload(decode=True).decode("utf-8", "replace"))
    return " ".join(" ".join(out).split())


def customer_mail(name, addr, subject, msg_id, body, cc=None):
    return (f"From: {name} <{addr}>\nTo: support@example.test\n"
            + (f"Cc: {cc}\n" if cc else "")
            + f"Subject: {subject}\nMessage-ID: <{msg_id}>\n"
            "Date: Mon, 30 Nov 2026 09:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n"
            f"{body}\n")


def agent_mail(name, addr, to, subject, msg_id, body, in_reply_to=None):
    """A mail an agent's own client sends (now, so it counts as fresh)."""
    return (f"From: {name} <{addr}>\nTo: {to}\nSubject: {subject}\nMessage-ID: <{msg_id}>\n"
            + (f"In-Reply-To: {in_reply_to}\nReferences: {in_reply_to}\n" if in_reply_to else "")
            + f"Date: {email.utils.formatdate()}\nContent-Type: text/plain; charset=utf-8\n\n{body}\n")


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
        buttons = forms[0].find_elements(By.CSS_SELECTOR, "button[type=submit], button:not([type]), input[type=submit]")
        if not buttons:
            raise Failed("%s: the form %s on %s has no submit button" % (self.name, form_selector, self.d.current_url))
        self.click(buttons[0], "submitting %s" % form_selector)

    def click(self, el, what):
        """Clicks something that loads a page, and waits for that page."""
        old = self.d.find_element(By.TAG_NAME, "html")
        el.click()
        self.wait("the page after %s" % what, lambda: is_stale(old))

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

    def detail(self, label):
        """The value of a ticket page's details list for `label` (its <dt>)."""
        dds = self.d.find_elements(By.XPATH, "//aside//dl/dt[normalize-space()='%s']/following-sibling::dd[1]" % label)
        return dds[0].text.strip() if dds else None

    def desk_links(self):
        """Ticket numbers the desk's queue lists, in its order."""
        ids = []
        for a in self.css("table a[href^='/desk/tickets/']"):
            m = re.fullmatch(r"/desk/tickets/(\d+)", a.get_attribute("pathname") or "")
            if m and int(m.group(1)) not in ids:
                ids.append(int(m.group(1)))
        return ids

    def ticket_links(self):
        """Ticket numbers linked from a ticket list."""
        ids = []
        for a in self.css("table a[href^='/tickets/']"):
            m = re.fullmatch(r"/tickets/(\d+)", a.get_attribute("pathname") or "")
            if m and int(m.group(1)) not in ids:
                ids.append(int(m.group(1)))
        return ids

    def sign_in(self, email, password):
        self.get("/login")
        self.expect_heading("Sign in")
        self.fill("#email", email)
        self.fill("#password", password)
        self.submit("form[action='/login']")
        self.expect_heading("My activities")

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
        self.step_started = None
        self.browsers = []
        self.warming = {}  # name: (thread, {"browser" or "error"})
        self.servers = None

    def begin(self, step):
        now = time.monotonic()
        if self.step_started is not None:
            log("   (%.1f s)" % (now - self.step_started))
        self.step, self.step_started = step, now
        log("== " + step)

    def prewarm(self, name):
        """Starts `name`'s browser in the background (Chromium takes 2-3 s to
        start on 2 cores) while the steps before it run; browser() takes it."""
        box = {}

        def start():
            try:
                box["browser"] = Browser(name, self.servers, self.screens)
            except BaseException as e:  # noqa: B902 -- handed to browser()
                box["error"] = e

        t = threading.Thread(target=start, name="browser-" + name, daemon=True)
        t.start()
        self.warming[name] = (t, box)

    def browser(self, name):
        if name in self.warming:
            t, box = self.warming.pop(name)
            t.join(WAIT)
            if "error" in box:
                raise Failed("%s's browser did not start: %s" % (name, box["error"]))
            if "browser" not in box:
                raise Failed("%s's browser did not start in %d s" % (name, WAIT))
            b = box["browser"]
        else:
            b = Browser(name, self.servers, self.screens)
        self.browsers.append(b)
        return b

    def quit_all(self):
        for b in list(self.browsers):
            b.quit()
        for t, box in self.warming.values():
            t.join(WAIT)
            if "browser" in box:
                box["browser"].quit()
        self.warming.clear()

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
        self.prewarm("ann")
        self.begin("starting Dovecot, the SMTP sink and ticketd run (portal %s)" % s.base)
        s.start()
        # The agent's link, asked for now: the daemon picks up rows the console
        # queued on its next outbox pass (up to 15 s), while the portal steps run.
        out = s.ticketd("users", "reset-password", AGENT)
        log("   ticketd users reset-password: " + out.strip())

        self.begin("1. Ann mails support with Bob on Cc; her setup link arrives in her mailbox")
        s.append(customer_mail("Ann Customer", "ann@acme.test", "Printer on fire", "e2e-1@acme.test",
                               "Our office printer PR-7 smells of smoke. Can you help?",
                               cc="Bob Colleague <bob@acme.test>"))
        link = s.setup_link("ann@acme.test")
        log("   " + link[:len(s.base) + 30] + "…")

        self.begin("2. Ann sets her password from the link and sees ticket #1")
        ann = self.browser("ann")
        self.prewarm("zoe")
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
        self.prewarm("eve")
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
        self.prewarm("agent")
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
        self.desk(s, new_id)
        log("== passed in %.1f s" % (time.monotonic() - t0))

    def desk(self, s, csv_id):
        """Steps 7-15: the agents' desk (DESIGN §9), and agents by mail."""
        zoe_id = s.ticket_id("New laptop for the office")
        eve_id = s.ticket_id("Question about my invoice")

        self.begin("7. The agent sets her password from the link of `ticketd users reset-password`, opens the desk")
        link = s.setup_link(AGENT)
        agent = self.browser("agent")
        self.prewarm("zoe-again")  # a new profile: no session cookie left from step 6
        agent.sign_up(link, PASSWORDS[AGENT])
        nav = agent.css("header.top nav a[href='/desk']")
        if not nav:
            raise Failed("agent: the top navigation has no Desk link")
        agent.click(nav[0], "the Desk link")
        agent.expect_heading("Desk")
        everything = {1, csv_id, zoe_id, eve_id}
        if set(agent.desk_links()) != everything:
            raise Failed("agent: the queue lists %s, not the tickets %s" % (agent.desk_links(), sorted(everything)))

        self.begin("8. The agent filters the queue (form and URL) and searches it")
        Select(agent.css("form[action='/desk'] select[name=status]")[0]).select_by_value("solved")
        agent.submit("form[action='/desk']")
        agent.expect_heading("Desk")
        if "status=solved" not in agent.d.current_url or agent.desk_links() != [1]:
            raise Failed("agent: filtering on Solved gave %s at %s, not [1]" % (agent.desk_links(), agent.d.current_url))
        for query, want in (("priority=high", [csv_id]), ("org=other.test", [eve_id]),
                            ("status=open&org=acme.test", sorted([csv_id, zoe_id]))):
            agent.get("/desk?" + query)
            agent.expect_heading("Desk")
            if sorted(agent.desk_links()) != want:
                raise Failed("agent: /desk?%s lists %s, not %s" % (query, agent.desk_links(), want))
        # Words of Ann's web reply only (not of any subject): the search reads message texts.
        agent.get("/desk")
        agent.expect_heading("Desk")
        agent.fill("form[action='/desk'] input[name=q]", "paper tray jammed")
        agent.submit("form[action='/desk']")
        agent.expect_heading("Desk")
        if agent.desk_links() != [1]:
            raise Failed("agent: searching 'paper tray jammed' gave %s, not [1]" % agent.desk_links())
        agent.get("/desk?q=no-such-word-anywhere")
        agent.expect_heading("Desk")
        if agent.desk_links():
            raise Failed("agent: a search for a word no ticket holds lists %s" % agent.desk_links())

        self.begin("9. The agent answers #1 publicly: Ann, Bob and Carol receive it by mail")
        agent.get("/desk")
        agent.click(agent.d.find_element(By.CSS_SELECTOR, "table a[href='/desk/tickets/1']"), "opening #1")
        agent.expect_heading("Printer on fire")
        if REPLY not in agent.text_of(".conversation .message .text"):
            raise Failed("agent: #1 does not show Ann's web reply")
        reply_form = "form[action='/desk/tickets/1/reply']"
        agent.fill(reply_form + " textarea[name=text]", ANSWER)
        agent.submit(reply_form)
        agent.wait("the answer in the conversation", lambda: ANSWER in agent.text_of(".conversation .message .text"))
        agent.wait("the Pending badge", lambda: "Pending" in agent.text_of(".heading .badge"))
        t = time.monotonic()
        for who in ("ann@acme.test", "bob@acme.test", "carol@acme.test"):
            s.wait_mail(who, "ticket_updated", contains=ANSWER)
        log("   in the three mailboxes after %.1f s" % (time.monotonic() - t))

        self.begin("10. The agent writes an internal note on #1: no customer mailbox gets it; Assign to me")
        agent.fill(reply_form + " textarea[name=text]", NOTE)
        box = agent.css(reply_form + " input[type=checkbox][name=internal]")
        if not box:
            raise Failed("agent: the reply form has no 'internal' checkbox")
        box[0].click()
        agent.submit(reply_form)
        agent.wait("the note in the conversation", lambda: NOTE in agent.text_of(".conversation .internal-note .text"))
        if "Internal note" not in agent.text_of(".conversation .internal-note header"):
            raise Failed("agent: the note is not marked 'Internal note'")
        messages = s.ticket(1)["messages"]
        notes = [m for m in messages if NOTE in (m.get("text") or "")]
        if len(notes) != 1 or not notes[0]["internal"]:
            raise Failed("agent: `tickets show 1` should hold the note once, internal: %s" % notes)
        s.outbox_drained()
        for who in PEOPLE:
            for msg in s.mails(who):
                body = texts(msg)
                leaked = [w for w in NOTE_WORDS if w in body]
                if leaked:
                    raise Failed("the internal note reached %s: %r in %r" % (who, leaked, msg["Subject"]))
        agent.click(agent.css("#assign-me")[0], "Assign to me")
        agent.expect_heading("Printer on fire")
        agent.wait("Assigned to the agent", lambda: AGENT in (agent.detail("Assigned to") or ""))
        if agent.css("#assign-me"):
            raise Failed("agent: 'Assign to me' is still offered on a ticket assigned to her")
        if s.ticket(1)["assignee"] != AGENT:
            raise Failed("`tickets show 1`: assignee %r, not %s" % (s.ticket(1)["assignee"], AGENT))
        agent.shot("desk-ticket")

        self.begin("11. The agent sets #%d urgent and assigns it to Bea: on-call is paged, Bea told" % csv_id)
        agent.get("/desk/tickets/%d" % csv_id)
        agent.expect_heading("CSV export stops at 10,000 rows")
        update = "form[action='/desk/tickets/%d/update']:not(.inline)" % csv_id
        Select(agent.css(update + " select[name=priority]")[0]).select_by_value("urgent")
        Select(agent.css(update + " select[name=assignee]")[0]).select_by_value(BEA)
        agent.submit(update)
        agent.wait("the Urgent badge", lambda: "Urgent" in agent.text_of(".heading .badge"))
        if BEA not in (agent.detail("Assigned to") or ""):
            raise Failed("agent: #%d is assigned to %r, not Bea" % (csv_id, agent.detail("Assigned to")))
        page = s.wait_mail(ONCALL, "urgent_page", subject="[#%d]" % csv_id)
        if "CSV export" not in page:
            raise Failed("the urgent page does not name the ticket:\n%s" % page)
        s.wait_mail(BEA, "ticket_assigned", subject="[#%d]" % csv_id)
        t = s.ticket(csv_id)
        if t["priority"] != "urgent" or t["assignee"] != BEA:
            raise Failed("`tickets show %d`: priority %r, assignee %r" % (csv_id, t["priority"], t["assignee"]))

        self.begin("12. Bea answers her alert for #%d by mail with `#assign me`; a forged one assigns nothing"
                   % zoe_id)
        alert = s.wait_message(BEA, "agent_alert", subject="[#%d]" % zoe_id)
        personal = email.utils.parseaddr(str(alert["Reply-To"]))[1]
        if not re.fullmatch(r"support\+%d-[0-9a-z]+@example\.test" % zoe_id, personal):
            raise Failed("Bea's alert for #%d has the Reply-To %r, not a personal address" % (zoe_id, alert["Reply-To"]))
        s.append(agent_mail("Bea Agent", BEA, personal, "Re: " + str(alert["Subject"]), "e2e-bea-1@example.test",
                            "#assign me\n\n" + BEA_TEXT, in_reply_to=alert["Message-ID"]))
        s.wait_until("Bea assigned to #%d by her mail" % zoe_id, lambda: s.ticket(zoe_id)["assignee"] == BEA)
        mine = [m for m in s.ticket(zoe_id)["messages"] if BEA_TEXT in (m.get("text") or "")]
        if len(mine) != 1 or not mine[0]["verified"] or mine[0]["internal"]:
            raise Failed("#%d should hold Bea's answer once, verified and public: %s" % (zoe_id, mine))
        # The same words From Bea to the plain address, with the subject tag: proves nothing.
        s.append(agent_mail("Bea Agent", BEA, "support@example.test", "Re: [#%d] Question about my invoice" % eve_id,
                            "e2e-forged-1@example.test", "#assign me\n\nForged: this must stay a note."))
        s.wait_until("the forged mail on #%d" % eve_id,
                     lambda: any("Forged" in (m.get("text") or "") for m in s.ticket(eve_id)["messages"]))
        t = s.ticket(eve_id)
        forged = [m for m in t["messages"] if "Forged" in (m.get("text") or "")][0]
        if t["assignee"] is not None or not forged["internal"] or forged["verified"]:
            raise Failed("the forged `#assign me` on #%d: assignee %r, internal %r, verified %r"
                         % (eve_id, t["assignee"], forged["internal"], forged["verified"]))
        if not any(e["kind"] == "unverified_sender" for e in t["events"]):
            raise Failed("#%d has no unverified_sender event: %s" % (eve_id, [e["kind"] for e in t["events"]]))

        self.begin("13. Zoe signs in: her tickets show whom they are assigned to; #1 the answer, not the note")
        zoe = self.browser("zoe-again")
        zoe.sign_in("zoe@acme.test", PASSWORDS["zoe@acme.test"])
        zoe.get("/tickets?status=all")
        zoe.expect_heading("My activities")
        rows = {}
        for tr in zoe.css("table tbody tr"):
            a = tr.find_elements(By.CSS_SELECTOR, "a[href^='/tickets/']")
            cell = tr.find_elements(By.CSS_SELECTOR, "td.assignee")
            if a and cell:
                rows[a[0].get_attribute("pathname")] = cell[0].text
        if "agent" not in rows.get("/tickets/1", "") or "Bea" not in rows.get("/tickets/%d" % zoe_id, ""):
            raise Failed("zoe: the 'Assigned to' column shows %s" % rows)
        zoe.get("/tickets/%d" % zoe_id)
        zoe.expect_heading("New laptop for the office")
        if "Bea" not in (zoe.detail("Assigned to") or ""):
            raise Failed("zoe: #%d shows 'Assigned to' %r" % (zoe_id, zoe.detail("Assigned to")))
        if BEA_TEXT not in zoe.text_of(".conversation .message .text"):
            raise Failed("zoe: #%d does not show Bea's answer" % zoe_id)
        if "#assign" in zoe.d.page_source:
            raise Failed("zoe: #%d shows Bea's command line" % zoe_id)
        zoe.get("/tickets/1")
        zoe.expect_heading("Printer on fire")
        if AGENT not in (zoe.detail("Assigned to") or ""):
            raise Failed("zoe: #1 shows 'Assigned to' %r" % zoe.detail("Assigned to"))
        if ANSWER not in zoe.text_of(".conversation .message .text"):
            raise Failed("zoe: #1 does not show the agent's answer")
        leaked = [w for w in NOTE_WORDS if w in zoe.d.page_source]
        if leaked:
            raise Failed("zoe: #1 shows the internal note (%s)" % leaked)
        self.close(zoe)

        self.begin("14. A mail without a sender is quarantined; the agent discards it in the desk")
        s.append("To: support@example.test\nSubject: Invoice overdue!!\nMessage-ID: <e2e-nofrom@junk.test>\n"
                 "Date: %s\nContent-Type: text/plain\n\nPay now.\n" % email.utils.formatdate())
        held = s.wait_until("the mail in `ticketd quarantine list`", lambda: s.ticketd_json("quarantine", "list"))
        agent.get("/desk")
        agent.click(agent.d.find_element(By.CSS_SELECTOR, "a[href='/desk/quarantine']"), "the Quarantine link")
        agent.expect_heading("Quarantine")
        entry = agent.css("table a[href='/desk/quarantine/%d']" % held[0]["id"])
        if len(held) != 1 or not entry:
            raise Failed("agent: the quarantine page does not list entry %s (held: %s)" % (held[0]["id"], held))
        agent.click(entry[0], "opening the quarantine entry")
        agent.expect_heading("Quarantine %d" % held[0]["id"])
        if "Pay now." not in agent.text_of("pre.raw"):
            raise Failed("agent: the quarantine entry does not show the raw message")
        agent.submit("form[action='/desk/quarantine/%d/discard']" % held[0]["id"])
        agent.expect_heading("Quarantine")
        if agent.css("table a[href='/desk/quarantine/%d']" % held[0]["id"]):
            raise Failed("agent: the discarded entry is still listed")
        left = s.ticketd_json("quarantine", "list")
        if left:
            raise Failed("`ticketd quarantine list` after the discard: %s" % left)

        self.begin("15. The agent deletes an event from #1's data log")
        agent.get("/desk/tickets/1")
        agent.expect_heading("Printer on fire")
        agent.click(agent.d.find_element(By.CSS_SELECTOR, "a[href='/desk/log?ticket=1']"), "the data log link")
        agent.expect_heading("Data log")
        agent.shot("desk-log")
        # The page's first notification_sent row: its # and its delete form.
        victim = None
        for tr in agent.css("table.desk-events tbody tr"):
            cells = [td.text.strip() for td in tr.find_elements(By.TAG_NAME, "td")]
            if len(cells) >= 4 and cells[3] == "notification_sent":
                victim = int(cells[0])
                break
        if victim is None:
            raise Failed("agent: #1's data log shows no notification_sent event")
        if not any(e["id"] == victim for e in s.ticketd_json("log", "list", "--ticket", "1")):
            raise Failed("`ticketd log list --ticket 1` does not have the page's event %d" % victim)
        form = "form[action='/desk/log/%d/delete']" % victim
        agent.submit(form)
        agent.expect_heading("Data log")
        if "ticket=1" not in agent.d.current_url or agent.css(form):
            raise Failed("agent: after deleting event %d: at %s, its form still there: %s"
                         % (victim, agent.d.current_url, bool(agent.css(form))))
        if any(e["id"] == victim for e in s.ticketd_json("log", "list", "--ticket", "1")):
            raise Failed("`ticketd log list --ticket 1` still has event %d" % victim)

        self.begin("16. The queue by assignee (bookmarked URLs), and the whole queue")
        for who, want in (("me", [1]), ("none", [eve_id]), (BEA, sorted([csv_id, zoe_id]))):
            agent.get("/desk?assignee=" + who)
            agent.expect_heading("Desk")
            if sorted(agent.desk_links()) != want:
                raise Failed("agent: /desk?assignee=%s lists %s, not %s" % (who, agent.desk_links(), want))
        agent.get("/desk")
        agent.expect_heading("Desk")
        if set(agent.desk_links()) != everything:
            raise Failed("agent: the whole queue lists %s, not %s" % (agent.desk_links(), sorted(everything)))
        agent.shot("desk-queue")
        self.close(agent)


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
        run.quit_all()
        if run.servers:
            run.servers.stop()
    sys.exit(code)


if __name__ == "__main__":
    main()
