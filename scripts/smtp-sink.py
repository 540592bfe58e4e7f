#!/usr/bin/python3
"""smtp-sink.py OUTDIR [--port 10025] [--max-seconds S] [--max-messages N] [--maildir-root DIR]
                     [--starttls CERT KEY]

Adapted for ticketd from the team's shared recipe (a test tool, not part of
the product). Additions: recipients whose local part starts with "reject"
are refused with 550 (a permanent failure), those starting with "defer" with
451 (a transient one), so the delivery tests meet real SMTP replies; and
--starttls CERT KEY requires STARTTLS with that certificate, and
--implicit-tls CERT KEY speaks TLS from the first byte, and --auth USER:PASSWORD
requires a login; --oauth2-introspect URL requires an OAuth2 bearer login
(XOAUTH2 and OAUTHBEARER, or those in --oauth2-mechanisms) whose token the
RFC 7662 introspection endpoint URL calls active for that user, as Postfix with
Dovecot SASL and Dovecot's oauth2 passdb would.

A real SMTP receiver (aiosmtpd) on 127.0.0.1 that stores every received
message, byte for byte as sent in DATA, as OUTDIR/<seq>.eml and appends one
JSON line per message to OUTDIR/index.jsonl (envelope sender, recipients,
size, receive time). It stops by itself after --max-seconds (default 6 h) or
after --max-messages messages (default: no count limit), or on SIGTERM/SIGINT.

With --maildir-root DIR (a dovecot-up.sh STATE_DIR/mail), each recipient that has
a mailbox there (DIR/<domain>/<local>/) also gets the message delivered into its
Maildir/new, owned like the mailbox: a test can then read it over IMAP as that user.

Runs with Debian's python3-aiosmtpd (/usr/bin/python3) or any Python that has
aiosmtpd installed. Use smtp-sink.sh to start/stop it in the background.
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


class SinkHandler:
    def __init__(self, outdir, max_messages, stop_event, maildir_root=None):
        self.maildir_root = maildir_root
        self.outdir = outdir
        self.max_messages = max_messages
        self.stop_event = stop_event
        existing = [f for f in os.listdir(outdir) if f.endswith(".eml")]
        self.seq = len(existing)
        self.index = open(os.path.join(outdir, "index.jsonl"), "a", buffering=1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: no such user here" % address
        if local.startswith("defer"):
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.seq += 1
        name = "%08d.eml" % self.seq
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        tmp = os.path.join(self.outdir, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.outdir, name))
        self.index.write(json.dumps({
            "file": name,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "size": len(data),
            "peer": list(session.peer) if session.peer else None,
            "auth": session.auth_data if isinstance(session.auth_data, str) else None,
            "time": time.time(),
        }) + "\n")
        if self.maildir_root:
            self.deliver(envelope.rcpt_tos, data)
        if self.max_messages and self.seq >= self.max_messages:
            self.stop_event.set()
        return "250 OK stored as " + name


    def deliver(self, rcpts, data):
        """Drop a copy into each known recipient's Maildir/new (tmp, then rename)."""
        import socket as _s
        for rcpt in rcpts:
            local, _, domain = rcpt.lower().partition("@")
            home = os.path.join(self.maildir_root, domain, local)
            if not local or not domain or "/" in local + domain or not os.path.isdir(home):
                continue
            st = os.stat(home)
            box = os.path.join(home, "Maildir")
            for sub in ("", "tmp", "new", "cur"):
                d = os.path.join(box, sub)
                if not os.path.isdir(d):
                    os.makedirs(d, exist_ok=True)
                    os.chown(d, st.st_uid, st.st_gid)
            name = "%d.P%dQ%d.%s" % (time.time(), os.getpid(), self.seq, _s.gethostname())
            tmp = os.path.join(box, "tmp", name)
            with open(tmp, "wb") as f:
                f.write(data)
            os.chown(tmp, st.st_uid, st.st_gid)
            os.rename(tmp, os.path.join(box, "new", name))


def bearer_mechanisms(handler, url, mechanisms):
    """AUTH XOAUTH2 / OAUTHBEARER (RFC 7628) on the handler, each token
    checked by POSTing it to the introspection endpoint URL."""
    import base64
    import urllib.parse
    import urllib.request
    from aiosmtpd.smtp import AuthResult, MISSING

    def active(user, token):
        body = urllib.parse.urlencode({"token": token}).encode()
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as r:
                info = json.loads(r.read())
        except Exception:
            return False
        return info.get("active") is True and info.get("username") == user

    def fields(text):
        return dict(p.split("=", 1) for p in text.split("\x01") if "=" in p)

    def read(mechanism, raw):
        text = raw.decode("utf-8", "replace")
        if mechanism == "XOAUTH2":
            f = fields(text)
            user = f.get("user")
        else:
            gs2, _, rest = text.partition("\x01")
            user = next((p[2:] for p in gs2.split(",") if p.startswith("a=")), None)
            user = user and user.replace("=2C", ",").replace("=3D", "=")
            f = fields(rest)
        bearer = f.get("auth", "")
        return user, bearer[7:] if bearer.startswith("Bearer ") else None

    def make(mechanism):
        async def method(server, args):
            if len(args) > 1:
                try:
                    raw = base64.b64decode(args[1], validate=True)
                except Exception:
                    return AuthResult(success=False, handled=False)
            else:
                raw = await server.challenge_auth("")
                if raw is MISSING:
                    return AuthResult(success=False, handled=True)
            user, token = read(mechanism, raw)
            loop = asyncio.get_running_loop()
            if user and token and await loop.run_in_executor(None, active, user, token):
                return AuthResult(success=True, auth_data="%s %s" % (mechanism, user))
            # RFC 7628 3.2.2: the error status as a challenge; 535 after the empty answer.
            await server.challenge_auth(json.dumps({"status": "invalid_token", "schemes": "bearer"}))
            # handled=False: aiosmtpd answers 535 itself.
            return AuthResult(success=False, handled=False)
        return method

    for m in mechanisms:
        setattr(handler, "auth_" + m.upper(), make(m.upper()))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--port", type=int, default=10025)
    ap.add_argument("--host", default="127.0.0.1",
                    help="bind address; must be a loopback address")
    ap.add_argument("--max-seconds", type=float, default=6 * 3600)
    ap.add_argument("--max-messages", type=int, default=0)
    ap.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"), default=None,
                    help="offer and require STARTTLS with this certificate and key")
    ap.add_argument("--auth", default=None, metavar="USER:PASSWORD",
                    help="require AUTH (PLAIN/LOGIN, over TLS) with these credentials")
    ap.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"), default=None,
                    help="TLS from the first byte (port 465 style) with this certificate and key")
    ap.add_argument("--oauth2-introspect", default=None, metavar="URL",
                    help="require an OAuth2 bearer login checked against this introspection URL")
    ap.add_argument("--oauth2-mechanisms", default="XOAUTH2 OAUTHBEARER",
                    help="the bearer mechanisms offered (default: XOAUTH2 OAUTHBEARER)")
    ap.add_argument("--maildir-root", default=None,
                    help="also deliver into DIR/<domain>/<local>/Maildir (a dovecot-up.sh STATE_DIR/mail)")
    args = ap.parse_args()
    if not (args.host.startswith("127.") or args.host in ("::1", "localhost")):
        sys.exit("smtp-sink: refusing to bind a non-loopback address")
    os.makedirs(args.outdir, exist_ok=True)

    import threading
    stop_event = threading.Event()
    handler = SinkHandler(args.outdir, args.max_messages, stop_event, args.maildir_root)

    import ssl
    def context(cert_key):
        if not cert_key:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert_key[0], cert_key[1])
        return ctx
    tls_context = context(args.starttls)
    implicit = context(args.implicit_tls)

    auth = {}
    if args.auth:
        from aiosmtpd.smtp import AuthResult
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, data):
            ok = (getattr(data, "login", b"") == user.encode()
                  and getattr(data, "password", b"") == password.encode())
            # handled=False: aiosmtpd answers 535 itself (True would send nothing).
            return AuthResult(success=ok, handled=False)
        auth = dict(authenticator=authenticator, auth_required=True,
                    auth_require_tls=tls_context is not None or implicit is not None)

    if args.oauth2_introspect:
        bearer_mechanisms(handler, args.oauth2_introspect, args.oauth2_mechanisms.split())
        from aiosmtpd.smtp import AuthResult

        def no_password(server, session, envelope, mechanism, data):
            return AuthResult(success=False, handled=False)
        auth = dict(authenticator=no_password, auth_required=True, auth_exclude_mechanism=["PLAIN", "LOGIN"],
                    auth_require_tls=tls_context is not None or implicit is not None)

    class Ctl(Controller):
        def factory(self):
            return SMTP(self.handler, enable_SMTPUTF8=True,
                        data_size_limit=64 * 1024 * 1024, decode_data=False,
                        hostname="smtp-sink.test", tls_context=tls_context,
                        require_starttls=tls_context is not None, **auth)

    ctl = Ctl(handler, hostname=args.host, port=args.port, ssl_context=implicit)
    ctl.start()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: stop_event.set())
    print("smtp-sink: listening on %s:%d, storing in %s (pid %d)"
          % (args.host, args.port, args.outdir, os.getpid()), flush=True)
    deadline = time.monotonic() + args.max_seconds
    while not stop_event.is_set() and time.monotonic() < deadline:
        stop_event.wait(0.5)
    ctl.stop()
    print("smtp-sink: stopped after %d messages" % handler.seq, flush=True)


if __name__ == "__main__":
    main()
