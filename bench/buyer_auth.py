#!/usr/bin/env python3
"""What verifying the buyer's token costs an intake (issue #21): the same
intake with --buyer-auth none and with jwt (EdDSA, RS256), as ratios.

Each pair runs back to back on one fresh embedded server per run, with the
same wrk script (bench/intake_token.lua), so only the server's work differs:

- sold out, retrying crowd: 2,000 buyers whose tokens come round again and
  again (a crowd that keeps pressing Buy): after the first sight a token is
  remembered by the HTTP thread that verified it;
- sold out, every request a new buyer: each token is verified (first sight);
- accepted: every request a new buyer, so every token is verified.

  /usr/bin/python3 bench/buyer_auth.py [--duration 5] [--connections 100] [--out FILE]

Tokens are made with PyJWT (python3-jwt). Prints a Markdown table; numbers
are requests per second as wrk measured them on this machine at this time,
meaningful only as ratios within the run.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

REPO = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("FLASHGATE_BIN", REPO / "build" / "release" / "flashgate"))
ADMIN = "bench-admin-token-buyer-auth"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keys_and_jwks(directory):
    keys = {"EdDSA": ed25519.Ed25519PrivateKey.generate(), "RS256": rsa.generate_private_key(65537, 2048)}
    jwks = []
    for alg, key in keys.items():
        jwk = json.loads((OKPAlgorithm if alg == "EdDSA" else RSAAlgorithm).to_jwk(key.public_key()))
        jwk.update(kid=alg.lower(), alg=alg, use="sig")
        jwks.append(jwk)
    path = directory / "jwks.json"
    path.write_text(json.dumps({"keys": jwks}))
    return keys, path


def token_file(directory, keys, alg, count, tag):
    exp = int(time.time()) + 3600
    path = directory / f"tokens-{alg}-{tag}-{count}.txt"
    with open(path, "w") as out:
        for i in range(count):
            out.write(jwt.encode({"sub": f"{tag}-{i}", "exp": exp}, keys[alg], algorithm=alg,
                                 headers={"kid": alg.lower()}) + "\n")
    return path


class Server:
    def __init__(self, directory, jwks=None):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(dir=directory))
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHGATE_")}
        env.update(FLASHGATE_ADMIN_TOKEN=ADMIN, FLASHGATE_PAYMENT_SECRET="x", FLASHGATE_INTAKE_RATE="0",
                   FLASHGATE_BUYER_INTAKE_RATE="0", FLASHGATE_MAX_CONNECTIONS_PER_CLIENT="1000000",
                   FLASHGATE_LOG_LEVEL="warn", FLASHGATE_WINDOWS="2")
        if jwks:
            env.update(FLASHGATE_BUYER_AUTH="jwt", FLASHGATE_JWT_KEYS=str(jwks))
        self.proc = subprocess.Popen([str(BIN), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir",
                                      str(self.dir)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("flashgate did not start")

    def sale(self, sale_id, stock):
        body = json.dumps({"sale_id": sale_id, "item": "bench", "stock": stock}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/admin/sales", data=body, method="POST",
                                         headers={"Authorization": f"Bearer {ADMIN}"})
        urllib.request.urlopen(request, timeout=10)

    def intake_counts(self):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10).read().decode()
        counts = {}
        for outcome, value in re.findall(r'flashgate_intake_total\{outcome="([a-z_]+)"\} (\S+)', text):
            if float(value):
                counts[outcome] = int(float(value))
        return counts

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def wrk(port, sale_id, tokens, tag, args):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "-s", str(REPO / "bench" / "intake_token.lua"),
         f"http://127.0.0.1:{port}", "--", sale_id, str(tokens) if tokens else "-", tag],
        capture_output=True, text=True, timeout=args.duration + 60)
    line = next(l for l in out.stdout.splitlines() if l.startswith("BENCH_RESULT "))
    return json.loads(line[len("BENCH_RESULT "):])


def run(directory, label, stock, tokens, jwks, args, tag):
    server = Server(directory, jwks)
    try:
        server.sale("bench", stock)
        result = wrk(server.port, "bench", tokens, tag, args)
        result["answers"] = server.intake_counts()
        return result
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--new-tokens", type=int, default=60000, help="tokens of new buyers, per algorithm")
    parser.add_argument("--out")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        keys, jwks = keys_and_jwks(directory)
        for alg in ("EdDSA", "RS256"):
            crowd = token_file(directory, keys, alg, 2000, "crowd")
            fresh = token_file(directory, keys, alg, args.new_tokens, "fresh")
            cases = [
                ("sold out, retrying crowd (2,000 buyers)", 0, crowd, "sold_out"),
                ("sold out, a new buyer per request", 0, fresh, "sold_out"),
                ("accepted, a new buyer per request", 10**9, fresh, "accepted"),
            ]
            for label, stock, tokens, expected in cases:
                base = run(directory, label, stock, None, None, args, f"b{len(rows)}")
                auth = run(directory, label, stock, tokens, jwks, args, f"a{len(rows)}")
                rows.append((alg, label, base, auth, expected))
                print(f"{alg} {label}: none {base['rps']:.0f}/s, jwt {auth['rps']:.0f}/s "
                      f"({auth['rps'] / base['rps']:.2f}x) answers {auth['answers']}", file=sys.stderr)
    lines = ["| algorithm | intake | none (req/s) | jwt (req/s) | jwt / none | jwt p99 / none p99 | jwt answers |",
             "|---|---|---|---|---|---|---|"]
    for alg, label, base, auth, expected in rows:
        lines.append(f"| {alg} | {label} | {base['rps']:,.0f} | {auth['rps']:,.0f} | "
                     f"{auth['rps'] / base['rps']:.2f}x | {auth['p99_us'] / max(1, base['p99_us']):.2f}x | "
                     f"{json.dumps(auth['answers'])} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
