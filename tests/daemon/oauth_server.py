#!/usr/bin/python3
"""oauth_server.py PORT_FILE [--access-ttl SECONDS] [--pending N]

A small OAuth2 authorization server for ticketd's live tests (stdlib only),
on 127.0.0.1 at a free port it writes into PORT_FILE:

  POST /token       refresh grant (RFC 6749 6): rotates the refresh token at
                    every use (the old one stops working); device grant (RFC
                    8628 3.4): authorization_pending, then slow_down once, then
                    pending until N polls have been answered, then tokens.
                    A poll faster than the current interval gets slow_down too
                    and is counted as too_fast.
  POST /device      device authorization (RFC 8628 3.2), interval 1 s.
  POST /introspect  RFC 7662 (Dovecot's introspection_mode = post): active and
                    username while the access token lives (--access-ttl).
  POST /admin/seed      user=U   -> {"refresh_token": ...} for U
  POST /admin/revoke             every refresh and access token stops working
  POST /admin/forget             every access token stops working (refresh kept)
  POST /admin/ttl    ttl=S       access tokens issued from now on live S seconds
  POST /admin/tls    cert=C&key=K  also serve HTTPS (same state) -> {"port": ...}
  GET  /admin/stats              counters, as JSON

Only client_id "ticketd-test" is known. Stops on SIGTERM.
"""
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLIENT_ID = "ticketd-test"
lock = threading.Lock()
refresh_tokens = {}  # token -> user
access_tokens = {}  # token -> (user, expires_at)
devices = {}  # device_code -> state
stats = {
    "refresh_grants": 0,
    "rotations": 0,
    "introspections": 0,
    "inactive_introspections": 0,
    "device_polls": [],
    "too_fast": 0,
    "refused_refresh": 0,
}
ACCESS_TTL = 30
PENDING = 3


def issue(user):
    access = "at-" + secrets.token_urlsafe(12)
    access_tokens[access] = (user, time.time() + ACCESS_TTL)
    refresh = "rt-" + secrets.token_urlsafe(12)
    refresh_tokens[refresh] = user
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL,
        "refresh_token": refresh,
        "scope": "mail",
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/admin/stats":
            with lock:
                return self.answer(200, stats)
        self.answer(404, {"error": "not_found"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(n).decode()).items()}
        with lock:
            status, obj = self.route(form)
        self.answer(status, obj)

    def route(self, form):
        path = self.path
        if path == "/token":
            if form.get("client_id") != CLIENT_ID:
                return 401, {"error": "invalid_client"}
            grant = form.get("grant_type")
            if grant == "refresh_token":
                stats["refresh_grants"] += 1
                user = refresh_tokens.pop(form.get("refresh_token", ""), None)
                if user is None:
                    stats["refused_refresh"] += 1
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "the refresh token was revoked or already used",
                    }
                stats["rotations"] += 1
                return 200, issue(user)
            if grant == "urn:ietf:params:oauth:grant-type:device_code":
                d = devices.get(form.get("device_code", ""))
                if d is None:
                    return 400, {"error": "invalid_grant"}
                now = time.time()
                stats["device_polls"].append(now)
                d["polls"] += 1
                too_fast = d["last"] is not None and now - d["last"] < d["interval"] - 0.2
                d["last"] = now
                if too_fast:
                    stats["too_fast"] += 1
                    d["interval"] += 5
                    return 400, {"error": "slow_down"}
                if d["polls"] == 2:
                    d["interval"] += 5
                    return 400, {"error": "slow_down"}
                if d["polls"] <= PENDING:
                    return 400, {"error": "authorization_pending"}
                del devices[form["device_code"]]
                return 200, issue(d["user"])
            return 400, {"error": "unsupported_grant_type"}
        if path == "/device":
            if form.get("client_id") != CLIENT_ID:
                return 401, {"error": "invalid_client"}
            code = "dc-" + secrets.token_urlsafe(12)
            devices[code] = {"polls": 0, "last": None, "interval": 1,
                             "user": "support@example.test", "scope": form.get("scope")}
            port = self.server.server_address[1]
            return 200, {
                "device_code": code,
                "user_code": "WDJB-MJHT",
                "verification_uri": "http://127.0.0.1:%d/device" % port,
                "expires_in": 120,
                "interval": 1,
            }
        if path == "/introspect":
            stats["introspections"] += 1
            entry = access_tokens.get(form.get("token", ""))
            if entry is None or entry[1] < time.time():
                stats["inactive_introspections"] += 1
                return 200, {"active": False}
            return 200, {"active": True, "username": entry[0], "exp": int(entry[1]),
                         "client_id": CLIENT_ID, "token_type": "Bearer"}
        if path == "/admin/seed":
            token = "rt-" + secrets.token_urlsafe(12)
            refresh_tokens[token] = form["user"]
            return 200, {"refresh_token": token}
        if path == "/admin/revoke":
            refresh_tokens.clear()
            access_tokens.clear()
            return 200, {}
        if path == "/admin/ttl":
            global ACCESS_TTL
            ACCESS_TTL = int(form["ttl"])
            return 200, {}
        if path == "/admin/tls":
            import ssl
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(form["cert"], form["key"])
            secure = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            secure.daemon_threads = True
            secure.socket = ctx.wrap_socket(secure.socket, server_side=True)
            threading.Thread(target=secure.serve_forever, daemon=True).start()
            return 200, {"port": secure.server_address[1]}
        if path == "/admin/forget":
            access_tokens.clear()
            return 200, {}
        return 404, {"error": "not_found"}


def main():
    global ACCESS_TTL, PENDING
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    port_file = args[0]
    if "--access-ttl" in args:
        ACCESS_TTL = int(args[args.index("--access-ttl") + 1])
    if "--pending" in args:
        PENDING = int(args[args.index("--pending") + 1])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    import os
    import signal
    os.rename(tmp, port_file)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


if __name__ == "__main__":
    main()
