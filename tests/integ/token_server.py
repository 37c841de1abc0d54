#!/usr/bin/python3
"""A registry token service for the tests: the Docker registry v2 token
flow (as Docker Hub, GitLab, Harbor run it), with real ES256 JWTs that a
CNCF distribution registry configured with `auth.token` verifies.

  token_server.py PORT CERTOUT LOG USER:PASS:PATTERN[,PATTERN] ...

Writes the signing certificate to CERTOUT (the registry's rootcertbundle),
then serves GET /token?service=S&scope=repository:NAME:ACTIONS with Basic
credentials.  A user gets pull and push on repositories matching its
patterns (fnmatch), pull only on others; anonymous requests get nothing.
Each request is appended to LOG as "user scope granted-actions".
TOKEN_FLAKY=reset closes every other connection of signet's (by its
User-Agent) without an answer (as Alibaba's token service resets some,
REGISTRIES.md A10); TOKEN_FLAKY=503 answers every other one 503 with a
message.

ACR's flows (REGISTRIES.md A8), for the same users: POST /oauth2/exchange
(form grant_type=access_token, service, access_token) turns an AAD token,
"aad-USER", into a refresh token, {"refresh_token": ...}; POST
/oauth2/token (form grant_type=refresh_token, service, scope,
refresh_token) answers {"access_token": ...}; and a GET with Basic
00000000-0000-0000-0000-000000000000:<refresh token> (docker login's way)
is that refresh token's user.  Logged as "acr-exchange USER",
"acr-refresh USER", "acr-basic USER".
"""
import base64
import datetime
import fnmatch
import http.server
import json
import os
import sys
import time
import urllib.parse

TTL = int(os.environ.get("TOKEN_TTL", "300"))   # seconds a token is good for
FLAKY = os.environ.get("TOKEN_FLAKY", "")

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def main(argv):
    port, certout, logpath = int(argv[1]), argv[2], argv[3]
    users = {}
    for spec in argv[4:]:
        user, pw, pats = spec.split(":", 2)
        users[user] = (pw, pats.split(","))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signet-test-token")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    with open(certout, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    served = [0]
    refresh = {}    # ACR refresh token -> user
    acr_user = "00000000-0000-0000-0000-000000000000"

    def log(line):
        with open(logpath, "a") as f:
            f.write(line + "\n")

    def token_for(user, service, scopes):
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) != 3 or parts[0] != "repository":
                continue
            wanted = parts[2].split(",")
            ok = []
            if user is not None:
                ok = [a for a in wanted if a == "pull" or
                      any(fnmatch.fnmatch(parts[1], p) for p in users[user][1])]
            access.append({"type": "repository", "name": parts[1], "actions": ok})
            log("%s %s %s" % (user or "-", scope, ",".join(ok)))
        t = int(time.time())
        claims = {"iss": "signet-test-issuer", "sub": user or "", "aud": service,
                  "exp": t + TTL, "nbf": t - 10, "iat": t, "jti": b64url(os.urandom(12)),
                  "access": access}
        header = {"typ": "JWT", "alg": "ES256", "x5c": [x5c]}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(n).decode())
            one = lambda k: form.get(k, [""])[0]
            path = urllib.parse.urlsplit(self.path).path
            if path == "/oauth2/exchange" and one("grant_type") == "access_token":
                user = one("access_token")[4:] if one("access_token").startswith("aad-") else ""
                if user not in users:
                    log("acr-exchange refused")
                    return self.answer(401, {"errors": [{"code": "UNAUTHORIZED",
                                                         "message": "invalid AAD token"}]})
                rt = "rt-" + b64url(os.urandom(18))
                refresh[rt] = user
                log("acr-exchange %s" % user)
                return self.answer(200, {"refresh_token": rt})
            if path == "/oauth2/token" and one("grant_type") == "refresh_token":
                user = refresh.get(one("refresh_token"))
                if user is None:
                    log("acr-refresh refused")
                    return self.answer(401, {"errors": [{"code": "UNAUTHORIZED",
                                                         "message": "invalid refresh token"}]})
                log("acr-refresh %s" % user)
                return self.answer(200, {"access_token": token_for(
                    user, one("service"), one("scope").split(" "))})
            self.answer(400, {"errors": [{"code": "UNSUPPORTED", "message": "unsupported grant"}]})

        def do_GET(self):
            # only signet's own requests: the test's clients are not tested
            if FLAKY and self.headers.get("User-Agent", "").startswith("signet"):
                served[0] += 1
            if FLAKY and served[0] % 2 == 1 and \
                    self.headers.get("User-Agent", "").startswith("signet"):
                with open(logpath, "a") as f:
                    f.write("- flaky %s\n" % FLAKY)
                if FLAKY == "reset":
                    import socket
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                msg = b'{"errors":[{"code":"UNAVAILABLE","message":"token service busy"}]}'
                self.send_response(503)
                self.send_header("Content-Length", str(len(msg)))
                self.end_headers()
                self.wfile.write(msg)
                return
            u = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(u.query)
            user = None
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                u_, _, p_ = base64.b64decode(auth[6:]).decode().partition(":")
                if u_ == acr_user and p_ in refresh:
                    user = refresh[p_]
                    log("acr-basic %s" % user)
                elif u_ in users and users[u_][0] == p_:
                    user = u_
                else:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    with open(logpath, "a") as f:
                        f.write("%s refused\n" % u_)
                    return
            token = token_for(user, q.get("service", [""])[0], q.get("scope", []))
            self.answer(200, {"token": token, "access_token": token, "expires_in": TTL})

    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main(sys.argv)
