#!/usr/bin/python3
"""Writes tests/unit/jwt_vectors.inc: keys and tokens made by an independent
implementation (PyJWT + cryptography, Debian's python3-jwt and
python3-cryptography), for jwt_test.cpp and jwks_test.cpp.

Run once by hand and commit the output (the unit tests stay self-contained):
    /usr/bin/python3 tests/unit/jwt_vectors.py
Every run makes fresh keys, so the tokens change; what they test does not.

The tests verify with issuer ISSUER, audience AUDIENCE, user claim "sub"
and the clock at NOW.
"""
import base64
import hashlib
import hmac
import json
import os
import secrets

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm

ISSUER = "https://shop.example"
AUDIENCE = "flashgate"
NOW = 1_900_000_000  # 2030-03-17
FAR = 4_102_444_800  # 2100-01-01
PAST = 1_000_000_000  # 2001-09-09


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk_of(algorithm, key, kid, alg=None):
    jwk = json.loads(algorithm.to_jwk(key))
    jwk["kid"] = kid
    jwk["use"] = "sig"
    if alg:
        jwk["alg"] = alg
    return jwk


rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa_other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa_small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
ec_key = ec.generate_private_key(ec.SECP256R1())
ed_key = ed25519.Ed25519PrivateKey.generate()
hmac_secret = secrets.token_bytes(48)

public_keys = [
    jwk_of(RSAAlgorithm, rsa_key.public_key(), "rsa-1", "RS256"),
    jwk_of(ECAlgorithm, ec_key.public_key(), "ec-1"),  # no "alg": P-256 implies ES256
    jwk_of(OKPAlgorithm, ed_key.public_key(), "ed-1", "EdDSA"),
    jwk_of(HMACAlgorithm, hmac_secret, "hs-1", "HS256"),
    jwk_of(RSAAlgorithm, rsa_small.public_key(), "rsa-small", "RS256"),  # skipped: under 2048 bits
]
# Private JWKs sign_jwt takes (Ed25519 and HMAC are deterministic, so sign_jwt
# must give these tokens byte for byte).
ed_private = jwk_of(OKPAlgorithm, ed_key, "ed-1", "EdDSA")
hs_private = jwk_of(HMACAlgorithm, hmac_secret, "hs-1", "HS256")

rsa_pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
rsa_n = rsa_key.public_key().public_numbers().n.to_bytes(256, "big")

CLAIMS = {"sub": "buyer-42", "iss": ISSUER, "aud": AUDIENCE, "exp": FAR}


def claims(**changes):
    c = dict(CLAIMS)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def pyjwt(payload, key, alg, kid, **headers):
    if kid is not None:
        headers["kid"] = kid
    return jwt.encode(payload, key, algorithm=alg, headers=headers or None)


def by_hand_hs(header_text: str, payload_text: str, secret: bytes) -> str:
    """A token PyJWT would not make (duplicate keys, a confused key): HMAC by hand."""
    signing_input = b64(header_text.encode()) + "." + b64(payload_text.encode())
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(mac)


compact = json.dumps(CLAIMS, separators=(",", ":"))
tokens = []


def add(name, token, expect, user=None):
    tokens.append({"name": name, "token": token, "expect": expect, **({"user": user} if user else {})})


# Accepted, one per algorithm, with and without kid.
add("rs256", pyjwt(CLAIMS, rsa_key, "RS256", "rsa-1"), "ok", "buyer-42")
add("es256", pyjwt(CLAIMS, ec_key, "ES256", "ec-1"), "ok", "buyer-42")
add("eddsa", pyjwt(CLAIMS, ed_key, "EdDSA", "ed-1"), "ok", "buyer-42")
add("hs256", pyjwt(CLAIMS, hmac_secret, "HS256", "hs-1"), "ok", "buyer-42")
add("rs256 without kid", pyjwt(CLAIMS, rsa_key, "RS256", None), "ok", "buyer-42")
add("es256 without kid", pyjwt(CLAIMS, ec_key, "ES256", None), "ok", "buyer-42")
add("eddsa without kid", pyjwt(CLAIMS, ed_key, "EdDSA", None), "ok", "buyer-42")
add("hs256 without kid", pyjwt(CLAIMS, hmac_secret, "HS256", None), "ok", "buyer-42")
add("aud array", pyjwt(claims(aud=["other", AUDIENCE]), ed_key, "EdDSA", "ed-1"), "ok", "buyer-42")
add("nbf in the past", pyjwt(claims(nbf=PAST), ed_key, "EdDSA", "ed-1"), "ok", "buyer-42")
add("exp as a fraction", pyjwt(claims(exp=FAR + 0.5), ed_key, "EdDSA", "ed-1"), "ok", "buyer-42")
add("typ at+jwt", pyjwt(CLAIMS, ed_key, "EdDSA", "ed-1", typ="at+jwt"), "ok", "buyer-42")
add("typ application/at+jwt", pyjwt(CLAIMS, ed_key, "EdDSA", "ed-1", typ="application/AT+JWT"), "ok", "buyer-42")
add("user id of every allowed character", pyjwt(claims(sub="Az09._:-"), ed_key, "EdDSA", "ed-1"), "ok", "Az09._:-")
add("user id of 64 bytes", pyjwt(claims(sub="u" * 64), ed_key, "EdDSA", "ed-1"), "ok", "u" * 64)
add("expired within the leeway", pyjwt(claims(exp=NOW - 10), ed_key, "EdDSA", "ed-1"), "ok", "buyer-42")
add("nbf within the leeway", pyjwt(claims(nbf=NOW + 10), ed_key, "EdDSA", "ed-1"), "ok", "buyer-42")

# Refused.
add("other rsa key under rsa-1's kid", pyjwt(CLAIMS, rsa_other, "RS256", "rsa-1"), "bad_signature")
add("other rsa key without kid", pyjwt(CLAIMS, rsa_other, "RS256", None), "bad_signature")
add("other hmac secret", pyjwt(CLAIMS, secrets.token_bytes(48), "HS256", "hs-1"), "bad_signature")
add("es256 with a DER signature",
    (lambda si: si + "." + b64(ec_key.sign(si.encode(), ec.ECDSA(hashes.SHA256()))))(
        pyjwt(CLAIMS, ec_key, "ES256", "ec-1").rsplit(".", 1)[0]), "bad_signature")
add("es256 signed by the kid's key under another alg", pyjwt(CLAIMS, ec_key, "ES256", "rsa-1"), "no_matching_key")
add("expired", pyjwt(claims(exp=PAST), ed_key, "EdDSA", "ed-1"), "expired")
add("expired beyond the leeway", pyjwt(claims(exp=NOW - 31), ed_key, "EdDSA", "ed-1"), "expired")
add("not yet valid", pyjwt(claims(nbf=NOW + 31), ed_key, "EdDSA", "ed-1"), "not_yet_valid")
add("wrong issuer", pyjwt(claims(iss="https://evil.example"), ed_key, "EdDSA", "ed-1"), "wrong_issuer")
add("no issuer", pyjwt(claims(iss=None), ed_key, "EdDSA", "ed-1"), "wrong_issuer")
add("wrong audience", pyjwt(claims(aud="other"), ed_key, "EdDSA", "ed-1"), "wrong_audience")
add("audience array without ours", pyjwt(claims(aud=["a", "b"]), ed_key, "EdDSA", "ed-1"), "wrong_audience")
add("no audience", pyjwt(claims(aud=None), ed_key, "EdDSA", "ed-1"), "wrong_audience")
add("missing exp", pyjwt(claims(exp=None), ed_key, "EdDSA", "ed-1"), "missing_exp")
add("exp a string", pyjwt(claims(exp=str(FAR)), ed_key, "EdDSA", "ed-1"), "missing_exp")
add("user claim missing", pyjwt(claims(sub=None), ed_key, "EdDSA", "ed-1"), "bad_user_claim")
add("user claim empty", pyjwt(claims(sub=""), ed_key, "EdDSA", "ed-1"), "bad_user_claim")
add("user claim 65 bytes", pyjwt(claims(sub="u" * 65), ed_key, "EdDSA", "ed-1"), "bad_user_claim")
add("user claim a number", pyjwt(claims(sub=42), ed_key, "EdDSA", "ed-1"), "bad_user_claim")
add("user claim with a control character", pyjwt(claims(sub="buyer\u000142"), ed_key, "EdDSA", "ed-1"),
    "bad_user_claim")
add("user claim with a space", pyjwt(claims(sub="buyer 42"), ed_key, "EdDSA", "ed-1"), "bad_user_claim")
add("unknown kid", pyjwt(CLAIMS, ed_key, "EdDSA", "nope"), "unknown_kid")
add("kid of a skipped key", pyjwt(CLAIMS, rsa_small, "RS256", "rsa-small"), "unknown_kid")
add("alg none", b64(b'{"alg":"none","typ":"JWT"}') + "." + b64(compact.encode()) + ".", "unsupported_alg")
add("alg None", b64(b'{"alg":"None"}') + "." + b64(compact.encode()) + ".", "unsupported_alg")
add("alg RS512", pyjwt(CLAIMS, rsa_key, "RS512", "rsa-1"), "unsupported_alg")
add("crit header", pyjwt(CLAIMS, ed_key, "EdDSA", "ed-1", crit=["exp"]), "malformed")
add("typ JOSE+JSON", pyjwt(CLAIMS, ed_key, "EdDSA", "ed-1", typ="JOSE+JSON"), "malformed")
add("typ a number", pyjwt(CLAIMS, ed_key, "EdDSA", "ed-1", typ=1), "malformed")
add("kid a number", by_hand_hs('{"alg":"HS256","kid":1}', compact, hmac_secret), "malformed")
# Algorithm confusion: HS256 keyed with the RSA key's public bytes, against a
# set that holds that RSA key: under its kid no key of HS256 is found; without
# a kid only the set's own HS256 key is tried.
for secret_name, secret in (("PEM", rsa_pem), ("modulus", rsa_n)):
    for kid, expect in (("rsa-1", "no_matching_key"), (None, "bad_signature")):
        header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
        add(f"HS256 keyed with the RSA {secret_name}, kid {kid}",
            by_hand_hs(json.dumps(header, separators=(",", ":")), compact, secret), expect)
add("duplicate alg in the header",
    by_hand_hs('{"alg":"HS256","kid":"hs-1","alg":"HS256"}', compact, hmac_secret), "malformed")
add("duplicate sub in the payload",
    by_hand_hs('{"alg":"HS256","kid":"hs-1"}', compact[:-1] + ',"sub":"buyer-43"}', hmac_secret), "malformed")
add("header an array", by_hand_hs('["HS256"]', compact, hmac_secret), "malformed")
add("payload an array", by_hand_hs('{"alg":"HS256","kid":"hs-1"}', '["x"]', hmac_secret), "malformed")
add("payload not JSON", by_hand_hs('{"alg":"HS256","kid":"hs-1"}', '{"sub":', hmac_secret), "malformed")
add("header not JSON", by_hand_hs('{alg:HS256}', compact, hmac_secret), "malformed")
add("hs256 made by hand", by_hand_hs('{"alg":"HS256","kid":"hs-1"}', compact, hmac_secret), "ok", "buyer-42")

# For sign_jwt: the same claims text and header PyJWT writes (sorted: alg, kid, typ).
signed = {
    "claims": compact,
    "eddsa": pyjwt(CLAIMS, ed_key, "EdDSA", "ed-1"),
    "hs256": pyjwt(CLAIMS, hmac_secret, "HS256", "hs-1"),
}

vectors = {
    "issuer": ISSUER,
    "audience": AUDIENCE,
    "now": NOW,
    "jwks": {"keys": public_keys},
    "ed_private": ed_private,
    "hs_private": hs_private,
    "signed": signed,
    "tokens": tokens,
}

# Sanity: PyJWT accepts what this file says is ok (for the algorithms it verifies).
for t in tokens:
    if t["expect"] == "ok" and "typ" not in t["name"] and "leeway" not in t["name"]:
        header = jwt.get_unverified_header(t["token"])
        key = {"RS256": rsa_key.public_key(), "ES256": ec_key.public_key(), "EdDSA": ed_key.public_key(),
               "HS256": hmac_secret}[header["alg"]]
        jwt.decode(t["token"], key, algorithms=[header["alg"]], audience=AUDIENCE, issuer=ISSUER,
                   options={"verify_exp": False})

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jwt_vectors.inc")
text = json.dumps(vectors, indent=1)
assert ")json\"" not in text
with open(out, "w") as f:
    f.write("// Generated by tests/unit/jwt_vectors.py (PyJWT " + jwt.__version__ + "); do not edit.\n")
    f.write("#pragma once\n#include <string_view>\n\n")
    f.write("inline constexpr std::string_view jwt_vectors_json = R\"json(" + text + ")json\";\n")
print(f"wrote {out}: {len(tokens)} tokens")
