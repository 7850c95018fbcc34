"""The buyer is who the shop's login says (issue #21): bearer tokens, a trusted proxy's header, secure defaults.

Tokens are made by an independent implementation (PyJWT, Debian's python3-jwt) with
keys made here by python3-cryptography; the JWKS URL is served by a separate
process (python3 -m http.server) whose file the tests rewrite to rotate keys.
Every refusal is 401 unauthorized_buyer with `WWW-Authenticate: Bearer
error="invalid_token"`, and leaves the sale as it was.
"""

import base64
import hashlib
import hmac
import http.client
import json
import socket
import subprocess
import sys
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm

from flashgate_harness import assert_error, assert_json, child_env, flashgate_bin, free_port, unique_id, wait_until

ISSUER = "https://login.shop.test/"
AUDIENCE = "flashgate"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Keys:
    """One key per algorithm, with its kid, and the JWKS document of their public halves."""

    def __init__(self):
        self.private = {
            "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ES256": ec.generate_private_key(ec.SECP256R1()),
            "EdDSA": ed25519.Ed25519PrivateKey.generate(),
            "HS256": uuid.uuid4().hex.encode() + uuid.uuid4().hex.encode(),
        }
        self.kid = {alg: f"{alg.lower()}-{uuid.uuid4().hex[:8]}" for alg in self.private}

    def jwk(self, alg):
        key = self.private[alg]
        if alg == "RS256":
            text = RSAAlgorithm.to_jwk(key.public_key())
        elif alg == "ES256":
            text = ECAlgorithm.to_jwk(key.public_key())
        elif alg == "EdDSA":
            text = OKPAlgorithm.to_jwk(key.public_key())
        else:
            text = HMACAlgorithm.to_jwk(key)
        jwk = json.loads(text)
        jwk.update(kid=self.kid[alg], use="sig", alg=alg)
        return jwk

    def jwks(self, algs=None):
        return {"keys": [self.jwk(alg) for alg in (algs or self.private)]}

    def token(self, user, alg="EdDSA", kid=None, **claims):
        now = int(time.time())
        body = {"sub": user, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.private[alg], algorithm=alg, headers={"kid": kid or self.kid[alg]})


def unsigned(header, claims, signature=b""):
    """A token put together by hand: for what no library will sign."""
    return ".".join([b64(header if isinstance(header, bytes) else json.dumps(header).encode()),
                     b64(json.dumps(claims).encode()), b64(signature)])


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def keys():
    return Keys()


@pytest.fixture(scope="module")
def jwt_server(server_pool, keys, tmp_path_factory):
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps(keys.jwks()))
    return server_pool.start(env={
        "FLASHGATE_BUYER_AUTH": "jwt", "FLASHGATE_JWT_KEYS": str(path),
        "FLASHGATE_JWT_ISSUER": ISSUER, "FLASHGATE_JWT_AUDIENCE": AUDIENCE,
    })


def intake(server, sale_id, headers=None, body=None):
    data = json.dumps(body if body is not None else {}).encode()
    return server.post(f"/api/sales/{sale_id}/orders", data=data,
                       headers={"Content-Type": "application/json", **(headers or {})})


def assert_refused(response):
    assert_error(response, 401, "unauthorized_buyer")
    assert response.headers.get("WWW-Authenticate") == 'Bearer error="invalid_token"', response.headers


# --------------------------------------------------------------------------- jwt: accepted


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA", "HS256"])
def test_a_token_of_each_algorithm_buys_as_its_subject(jwt_server, keys, alg):
    sale_id = jwt_server.new_sale(stock=5)
    user = unique_id("buyer")
    token = keys.token(user, alg)
    first = assert_json(intake(jwt_server, sale_id, bearer(token)), 202)
    # The same buyer again, with the user_id in the body this time: the same order.
    again = assert_json(intake(jwt_server, sale_id, bearer(token), {"user_id": user}), 200)
    assert again["order_id"] == first["order_id"]
    # Polls are unchanged: the ticket is the capability, no token needed.
    status = assert_json(jwt_server.get("/api/orders/status", params={"ticket": first["ticket"]}), 200)
    assert status["order_id"] == first["order_id"]
    assert jwt_server.sale(sale_id)["remaining"] == 4


def test_the_body_cannot_name_another_buyer(jwt_server, keys):
    sale_id = jwt_server.new_sale(stock=5)
    response = intake(jwt_server, sale_id, bearer(keys.token(unique_id("me"))), {"user_id": unique_id("someone-else")})
    assert_error(response, 403, "user_mismatch")
    assert jwt_server.sale(sale_id)["remaining"] == 5


def test_one_buyer_one_order_whatever_the_body_says(jwt_server, keys):
    """The body used to be the buyer: a bot could invent users. Now two tokens of one buyer are one order."""
    sale_id = jwt_server.new_sale(stock=5)
    user = unique_id("buyer")
    first = assert_json(intake(jwt_server, sale_id, bearer(keys.token(user, "EdDSA"))), 202)
    second = assert_json(intake(jwt_server, sale_id, bearer(keys.token(user, "RS256"))), 200)
    assert second["order_id"] == first["order_id"]
    assert jwt_server.sale(sale_id)["remaining"] == 4


def test_a_verified_buyer_asks_for_units_without_naming_themselves(jwt_server, keys):
    """quantity and request_id need no user_id in the body: the token says who buys (issue #26)."""
    sale_id = unique_id("qsale")
    assert jwt_server.create_sale({"sale_id": sale_id, "item": "crate", "stock": 6, "max_per_buyer": 3}).status_code == 201
    user = unique_id("buyer")
    token = bearer(keys.token(user, "EdDSA"))
    first = assert_json(intake(jwt_server, sale_id, token, {"quantity": 2, "request_id": "a"}), 202)
    assert first["quantity"] == 2
    assert assert_json(intake(jwt_server, sale_id, token, {"quantity": 2, "request_id": "a"}), 200)["order_id"] == first["order_id"]
    assert_error(intake(jwt_server, sale_id, token, {"quantity": 2, "request_id": "b"}), 409, "buyer_limit_reached")
    assert_error(intake(jwt_server, sale_id, token, {"user_id": unique_id("other"), "quantity": 1}), 403, "user_mismatch")
    assert jwt_server.sale(sale_id)["remaining"] == 4


# --------------------------------------------------------------------------- jwt: refused


def refused_tokens(keys):
    now = int(time.time())
    other = ed25519.Ed25519PrivateKey.generate()
    good = keys.token("victim")
    head, payload, signature = good.split(".")
    forged_sig = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    rsa_public_pem = keys.private["RS256"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    confusion_header = {"alg": "HS256", "typ": "JWT", "kid": keys.kid["RS256"]}
    confusion_claims = {"sub": "confused", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600}
    confusion_input = f"{b64(json.dumps(confusion_header).encode())}.{b64(json.dumps(confusion_claims).encode())}"
    confusion = confusion_input + "." + b64(hmac.new(rsa_public_pem, confusion_input.encode(), hashlib.sha256).digest())
    claims = {"sub": "nobody", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600}
    duplicate_header = b'{"alg":"EdDSA","kid":"' + keys.kid["EdDSA"].encode() + b'","alg":"none"}'
    return {
        "forged signature": f"{head}.{payload}.{forged_sig}",
        "payload changed": f"{head}.{b64(json.dumps({**claims, 'sub': 'victim2'}).encode())}.{signature}",
        "other key": jwt.encode(claims, other, algorithm="EdDSA", headers={"kid": keys.kid["EdDSA"]}),
        "expired": keys.token("late", exp=now - 3600, iat=now - 7200),
        "not yet valid": keys.token("early", nbf=now + 3600),
        "wrong issuer": keys.token("x", iss="https://evil.test/"),
        "wrong audience": keys.token("x", aud="someone-else"),
        "no exp": keys.token("x", exp=None),
        "alg none": unsigned({"alg": "none", "typ": "JWT"}, claims),
        "alg none with kid": unsigned({"alg": "none", "kid": keys.kid["EdDSA"]}, claims),
        "HS256 with the RSA public key as secret": confusion,
        "16 KiB token": keys.token("big", padding="p" * 16384),
        "bad base64": f"{head}.{payload}!.{signature}",
        "two parts": f"{head}.{payload}",
        "duplicate header keys": unsigned(duplicate_header, claims, b"\0" * 64),
        "kid not in the set": keys.token("x", kid="no-such-kid"),
        "empty subject": keys.token(""),
        "subject too long": keys.token("u" * 65),
        "subject not a string": keys.token(12345),
    }


REFUSALS = ["forged signature", "payload changed", "other key", "expired", "not yet valid", "wrong issuer",
            "wrong audience", "no exp", "alg none", "alg none with kid", "HS256 with the RSA public key as secret",
            "16 KiB token", "bad base64", "two parts", "duplicate header keys", "kid not in the set",
            "empty subject", "subject too long", "subject not a string"]


@pytest.mark.parametrize("case", REFUSALS)
def test_a_bad_token_is_401_and_changes_nothing(jwt_server, keys, case):
    sale_id = jwt_server.new_sale(stock=3)
    token = refused_tokens(keys)[case]
    response = intake(jwt_server, sale_id, bearer(token), {"user_id": "victim"})
    assert_refused(response)
    assert token not in jwt_server.logs(), "a refused token's text was logged"
    sale = jwt_server.sale(sale_id)
    assert sale["remaining"] == 3
    stats = assert_json(jwt_server.get_stats(sale_id), 200)
    assert sum(stats["counts"].values()) == 0


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"])
def test_no_bearer_token_is_401(jwt_server, authorization):
    sale_id = jwt_server.new_sale(stock=3)
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_refused(intake(jwt_server, sale_id, headers, {"user_id": "someone"}))
    assert jwt_server.sale(sale_id)["remaining"] == 3


# --------------------------------------------------------------------------- JWKS URL: rotation


class JwksHost:
    """A separate process serving DIR/jwks.json over HTTP; its log counts the fetches."""

    def __init__(self, directory):
        self.dir = directory
        self.port = free_port()
        self.log = open(directory / "http.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(directory), str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(self.answers, timeout=15, message="the JWKS host")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/jwks.json"

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def publish(self, document):
        tmp = self.dir / "jwks.json.tmp"
        tmp.write_text(json.dumps(document))
        tmp.replace(self.dir / "jwks.json")

    def fetches(self):
        self.log.flush()
        return (self.dir / "http.log").read_text(errors="replace").count("GET /jwks.json")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


def test_keys_rotated_at_the_jwks_url_need_no_restart(start_server, keys, tmp_path):
    host = JwksHost(tmp_path)
    try:
        host.publish(keys.jwks(["EdDSA"]))
        server = start_server(env={"FLASHGATE_BUYER_AUTH": "jwt", "FLASHGATE_JWT_KEYS_URL": host.url})
        assert host.fetches() == 1, "fetched once at start"
        sale_id = server.new_sale(stock=10)
        assert_json(intake(server, sale_id, bearer(keys.token(unique_id("a"), "EdDSA"))), 202)

        # The identity provider rotates: a new key (ES256 here) signs from now on.
        host.publish(keys.jwks(["EdDSA", "ES256"]))
        assert_json(intake(server, sale_id, bearer(keys.token(unique_id("b"), "ES256"))), 202)
        assert host.fetches() == 2, "the unknown kid fetched the keys once"

        # A kid nobody has: within the minute no other fetch, just 401.
        for kid in ("made-up-1", "made-up-2", "made-up-3"):
            assert_refused(intake(server, sale_id, bearer(keys.token(unique_id("c"), "EdDSA", kid=kid))))
        assert host.fetches() == 2, "made-up kids cost the identity provider nothing"
        assert server.sale(sale_id)["remaining"] == 8
    finally:
        host.stop()


def test_an_unknown_kid_fetches_once_then_is_refused(start_server, keys, tmp_path):
    host = JwksHost(tmp_path)
    try:
        host.publish(keys.jwks(["RS256"]))
        server = start_server(env={"FLASHGATE_BUYER_AUTH": "jwt", "FLASHGATE_JWT_KEYS_URL": host.url})
        sale_id = server.new_sale(stock=3)
        assert_refused(intake(server, sale_id, bearer(keys.token(unique_id("c"), "EdDSA"))))
        assert host.fetches() == 2, "one fetch for the unknown kid"
        assert_refused(intake(server, sale_id, bearer(keys.token(unique_id("c"), "EdDSA"))))
        assert host.fetches() == 2
        assert server.sale(sale_id)["remaining"] == 3
    finally:
        host.stop()


# --------------------------------------------------------------------------- header mode


def post_from(source, port, path, body, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def test_header_mode_believes_only_trusted_proxies(start_server):
    server = start_server(env={"FLASHGATE_BUYER_AUTH": "header", "FLASHGATE_USER_HEADER": "X-User-Id",
                               "FLASHGATE_TRUST_PROXY": "127.0.0.2"})
    sale_id = server.new_sale(stock=5)
    path = f"/api/sales/{sale_id}/orders"
    user = unique_id("proxied")
    status, body = post_from("127.0.0.2", server.port, path, {}, {"X-User-Id": user})
    assert status == 202, body
    status, again = post_from("127.0.0.2", server.port, path, {"user_id": user}, {"X-User-Id": user})
    assert status == 200 and again["order_id"] == body["order_id"], again
    status, body = post_from("127.0.0.2", server.port, path, {"user_id": "other"}, {"X-User-Id": unique_id("p")})
    assert (status, body.get("error")) == (403, "user_mismatch"), body
    status, body = post_from("127.0.0.2", server.port, path, {"user_id": "someone"}, {})
    assert (status, body.get("error")) == (401, "unauthorized_buyer"), body
    # Not a trusted proxy: the header is not believed.
    status, body = post_from("127.0.0.1", server.port, path, {}, {"X-User-Id": unique_id("direct")})
    assert (status, body.get("error")) == (401, "unauthorized_buyer"), body
    assert server.sale(sale_id)["remaining"] == 4


# --------------------------------------------------------------------------- per-buyer rate


def test_the_intake_rate_applies_per_buyer(start_server, keys, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(keys.jwks()))
    server = start_server(env={"FLASHGATE_BUYER_AUTH": "jwt", "FLASHGATE_JWT_KEYS": str(path),
                               "FLASHGATE_BUYER_INTAKE_RATE": "0.01", "FLASHGATE_BUYER_INTAKE_BURST": "2"})
    user = unique_id("eager")
    token = keys.token(user, "EdDSA")
    sales = [server.new_sale(stock=5) for _ in range(3)]
    assert_json(intake(server, sales[0], bearer(token)), 202)
    assert_json(intake(server, sales[1], bearer(token)), 202)
    limited = intake(server, sales[2], bearer(token))
    assert_error(limited, 429, "too_many_requests")
    assert int(limited.headers["Retry-After"]) >= 1
    assert server.sale(sales[2])["remaining"] == 5
    # Another buyer from the same address is not held back by the first.
    assert_json(intake(server, sales[2], bearer(keys.token(unique_id("calm"), "EdDSA"))), 202)


# --------------------------------------------------------------------------- secure by default


def run_serve(tmp_path, *args, env=None):
    port = free_port()
    cmd = [str(flashgate_bin()), "serve", "--data-dir", str(tmp_path), *args]
    cmd = [c.replace("PORT", str(port)) for c in cmd]
    return subprocess.Popen(cmd, env=child_env(env or {}), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True), port


@pytest.mark.embedded_only(reason="a start-up refusal: no store is involved")
def test_anonymous_buyers_on_a_public_address_refuse_to_start(tmp_path):
    proc, _ = run_serve(tmp_path, "--listen", "0.0.0.0:PORT")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "buyer_auth" in err and "allow-anonymous-buyers" in err, err


@pytest.mark.embedded_only(reason="a start-up check: no store is involved")
def test_anonymous_buyers_on_a_public_address_start_when_allowed(tmp_path):
    proc, port = run_serve(tmp_path, "--listen", "0.0.0.0:PORT", "--allow-anonymous-buyers")
    try:
        def ready():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/healthz")
                return conn.getresponse().status == 200
            except OSError:
                return proc.poll() is not None
        wait_until(ready, timeout=30, message="flashgate ready")
        assert proc.poll() is None, proc.stderr.read()
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


# --------------------------------------------------------------------------- flashgate token


def test_flashgate_token_signs_what_the_server_accepts(start_server, tmp_path):
    key = tmp_path / "buyer.jwk"
    user = unique_id("toured")

    def token_for(name):
        result = subprocess.run([str(flashgate_bin()), "token", "--user", name, "--key", str(key), "--ttl", "10m"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    token = token_for(user)
    assert (tmp_path / "buyer.jwk.jwks").is_file()
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == user and 500 < claims["exp"] - time.time() <= 600
    # PyJWT verifies it with the public JWKS the command wrote.
    public = json.loads((tmp_path / "buyer.jwk.jwks").read_text())["keys"][0]
    assert jwt.decode(token, OKPAlgorithm.from_jwk(json.dumps(public)), algorithms=["EdDSA"])["sub"] == user

    server = start_server(env={"FLASHGATE_BUYER_AUTH": "jwt", "FLASHGATE_JWT_KEYS": str(tmp_path / "buyer.jwk.jwks")})
    sale_id = server.new_sale(stock=2)
    assert_json(intake(server, sale_id, bearer(token)), 202)
    assert_json(intake(server, sale_id, bearer(token_for(unique_id("second")))), 202)  # the same key, reused


def test_flashgate_token_refuses_a_bad_user(tmp_path):
    result = subprocess.run([str(flashgate_bin()), "token", "--user", "not valid!", "--key", str(tmp_path / "k.jwk")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--user" in result.stderr
