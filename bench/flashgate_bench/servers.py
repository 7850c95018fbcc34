"""flashgate as the scenarios start it (its own data dir and port, limits out of wrk's way),
its admin API, and its /metrics."""

import http.client
import json
import os
import time

from .processes import ScenarioError, free_port, log, wait_for

ADMIN_TOKEN = "bench-admin-token-5d1c0b7e9a3f"
PAYMENT_SECRET = "bench-payment-secret-8e2a4c6f0b1d"


def request(port, method, path, body=None, headers=None, timeout=10.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        conn.request(method, path, body=data, headers=headers or {})
        r = conn.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw) if raw else None
        except ValueError:
            return r.status, raw.decode(errors="replace")
    finally:
        conn.close()


def parse_metrics(text):
    """Prometheus text -> {'name{labels}': value}."""
    values = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            values[key] = float(value)
        except ValueError:
            pass
    return values


def metric_sum(metrics, name, **labels):
    total = 0.0
    for key, value in metrics.items():
        if not (key == name or key.startswith(name + "{")):
            continue
        if all(f'{k}="{v}"' in key for k, v in labels.items()):
            total += value
    return total


class Flashgate:
    """One flashgate process with its own data dir and port."""

    def __init__(self, run, name, env=None, args=(), prefix=()):
        self.run = run
        self.name = name
        self.dir = run.tmp / name
        self.dir.mkdir()
        self.port = free_port()
        # Only what is set here: no FLASHGATE_* of the caller's environment leaks in.
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHGATE_")}
        full_env.update(
            {
                "FLASHGATE_ADMIN_TOKEN": ADMIN_TOKEN,
                "FLASHGATE_PAYMENT_SECRET": PAYMENT_SECRET,
                "FLASHGATE_INTAKE_RATE": "0",  # wrk comes from one address
                "FLASHGATE_POLL_RATE": "0",
                "FLASHGATE_MAX_CONNECTIONS_PER_CLIENT": "1000000",
                "FLASHGATE_MAX_CONNECTIONS": "1000000",
                "FLASHGATE_LOG_LEVEL": "warn",
                "FLASHGATE_SHUTDOWN_TIMEOUT": "2s",
            }
        )
        full_env.update(env or {})
        argv = [*prefix, run.bin, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.dir / "data", *args]
        self.argv = argv
        self.proc = run.procs.start(argv, self.dir / "flashgate.log", env=full_env)
        try:
            wait_for(self.healthy, 30, f"flashgate {name} to answer /healthz")
        except ScenarioError:
            raise ScenarioError(f"flashgate {name} did not start: {self.log_tail()}")

    def healthy(self):
        if self.proc.poll() is not None:
            raise ScenarioError(f"flashgate {self.name} exited ({self.proc.returncode}): {self.log_tail()}")
        return request(self.port, "GET", "/healthz", timeout=2)[0] == 200

    def log_tail(self, n=15):
        try:
            return " | ".join((self.dir / "flashgate.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def admin(self, method, path, body=None):
        return request(self.port, method, path, body, {"Authorization": f"Bearer {ADMIN_TOKEN}"})

    def create_sale(self, sale_id, stock):
        status, body = self.admin("POST", "/api/admin/sales", {"sale_id": sale_id, "item": "Bench " + sale_id, "stock": stock})
        if status != 201:
            raise ScenarioError(f"creating sale {sale_id}: {status} {body}")

    def stats(self, sale_id):
        status, body = self.admin("GET", f"/api/admin/sales/{sale_id}/stats")
        if status != 200:
            raise ScenarioError(f"stats of {sale_id}: {status} {body}")
        return body

    def metrics(self, settle=0.0):
        """/metrics, parsed; {} if it does not answer within 30 s.

        `settle`: seconds to wait first, so that no answer of the load is still
        on its way. A scrape that meets them stalls a Redis gateway for up to
        15 s: Registry::render holds the registry's mutex while a per-sale gauge
        waits (command_sync) for the Redis client's thread, and that thread is
        blocked on the same mutex, counting an intake it is answering."""
        time.sleep(settle)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        began = time.monotonic()
        try:
            conn.request("GET", "/metrics")
            text = conn.getresponse().read().decode()
        except OSError as e:
            log(f"  /metrics of {self.name} did not answer: {e}")
            return {}
        finally:
            conn.close()
        took = time.monotonic() - began
        if took > 1.0:
            log(f"  /metrics of {self.name} took {took:.1f} s")
            self.run.notes.append(f"/metrics of the {self.name} server took {took:.1f} s to answer.")
        return parse_metrics(text)

    def stop(self):
        self.run.procs.stop(self.proc, grace=4.0)
