#!/usr/bin/env python3
"""The benchmark runner behind scripts/bench.sh: starts what each scenario
needs on loopback (nginx, flashgate, redis-server, PostgreSQL), drives it
(wrk with the Lua scripts of bench/, redis-benchmark, the stream holder, the
wake-up probe, the Google Benchmark binary) and writes docs/benchmarks.md.

Every HTTP scenario is paired with a run of the nginx reference just before
it (same wrk settings), so that each ratio compares two numbers taken a few
seconds apart on the same, possibly busy, machine. The distributed accepted
intake is paired the same way with redis-benchmark running the same Lua
intake script on the same Redis.

Standard library only; run with Debian's /usr/bin/python3.
"""

import argparse
import datetime as dt
import hashlib
import http.client
import json
import math
import os
import platform
import re
import resource
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import instructions  # bench/instructions.py
import windows_sink  # bench/windows_sink.py

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable

ADMIN_TOKEN = "bench-admin-token-5d1c0b7e9a3f"
PAYMENT_SECRET = "bench-payment-secret-8e2a4c6f0b1d"

# Scenario names, in the order they run. HTTP scenarios get a paired nginx run.
EMBEDDED = ["soldout", "accepted", "poll", "wakeup", "sse", "windows-sink", "micro", "instructions"]
DISTRIBUTED = ["redis-ref", "dist-accepted", "dist-soldout", "dist-poll", "windows-pg"]
ALL = ["nginx"] + EMBEDDED + DISTRIBUTED
GROUPS = {"all": ALL, "embedded": ["nginx"] + EMBEDDED, "distributed": ["nginx"] + DISTRIBUTED}
PAIRED_WITH_NGINX = {"soldout", "accepted", "poll", "dist-accepted", "dist-soldout", "dist-poll"}

TITLES = {
    "nginx": "nginx, fixed 200 JSON (reference)",
    "soldout": "intake, sold out (embedded)",
    "accepted": "intake, accepted, durable (embedded)",
    "poll": "poll with valid tickets (embedded)",
    "wakeup": "wake-up latency, long poll and SSE (embedded)",
    "sse": "many open event streams (embedded)",
    "windows-sink": "windows throughput against an order sink answering in 20 ms (embedded)",
    "micro": "micro-benchmarks",
    "instructions": "instructions per request under callgrind (nginx, soldout, accepted, poll)",
    "redis-ref": "redis-benchmark, intake script (reference)",
    "dist-accepted": "intake, accepted (gateway on Redis)",
    "dist-soldout": "intake, sold out (gateway on Redis)",
    "dist-poll": "poll with valid tickets (gateway on Redis)",
    "windows-pg": "windows throughput (Redis + PostgreSQL)",
}


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


class ScenarioError(RuntimeError):
    pass


# --------------------------------------------------------------------------- processes


class Processes:
    """Every process the run starts, stopped (by pid) when the run ends, however it ends."""

    def __init__(self):
        self.procs = []
        self.stoppers = []  # callables for servers stopped by a script (redis, postgres)

    def start(self, argv, log_path, env=None, stdin=None, stdout=None):
        out = open(log_path, "ab")
        proc = subprocess.Popen(
            [str(a) for a in argv],
            stdout=stdout if stdout is not None else out,
            stderr=out,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        proc.log_path = log_path
        self.procs.append(proc)
        return proc

    def stop(self, proc, sig=signal.SIGTERM, grace=5.0):
        if proc.poll() is None:
            try:
                proc.send_signal(sig)
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self):
        for proc in list(reversed(self.procs)):
            try:
                self.stop(proc, grace=3.0)
            except Exception as e:  # keep going: every other process must be stopped too
                log(f"could not stop pid {proc.pid}: {e}")
        for stopper in reversed(self.stoppers):
            try:
                stopper()
            except Exception as e:
                log(f"cleanup failed: {e}")
        self.stoppers.clear()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def wait_for(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except OSError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise ScenarioError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def proc_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def proc_cpu_seconds(pids):
    """utime + stime of these processes, in seconds."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                kids.append(int(entry))
        except (OSError, IndexError, ValueError):
            pass
    return kids


def nofile_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return 1024


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


# --------------------------------------------------------------------------- servers


class Nginx:
    """nginx with its own configuration in a temp dir. single: one process (no master), so that a
    `prefix` such as valgrind sees the process that answers."""

    def __init__(self, run, name="nginx", prefix=(), single=False):
        self.run = run
        self.dir = run.tmp / name
        self.dir.mkdir()
        self.port = free_port()
        conf = self.dir / "nginx.conf"
        conf.write_text(
            f"""# bench/runner.py: the HTTP ceiling of this machine
worker_processes {1 if single else 2};
{"master_process off;" if single else ""}
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 65;
  client_body_temp_path {self.dir}/body;
  proxy_temp_path {self.dir}/proxy;
  fastcgi_temp_path {self.dir}/fastcgi;
  uwsgi_temp_path {self.dir}/uwsgi;
  scgi_temp_path {self.dir}/scgi;
  server {{
    listen 127.0.0.1:{self.port} backlog=4096;
    location / {{
      default_type application/json;
      return 200 '{{"ok":true}}';
    }}
  }}
}}
"""
        )
        self.proc = run.procs.start(
            [*prefix, run.nginx, "-c", conf, "-p", self.dir, "-e", self.dir / "error.log"], self.dir / "stdout.log"
        )
        wait_for(lambda: request(self.port, "GET", "/")[0] == 200, 30, "nginx")

    def stop(self):
        self.run.procs.stop(self.proc, grace=10.0)

    def pids(self):
        return [self.proc.pid] + children_of(self.proc.pid)


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


# --------------------------------------------------------------------------- the run


class Run:
    def __init__(self, args):
        self.args = args
        self.smoke = args.smoke
        self.procs = Processes()
        self.tmp = Path(tempfile.mkdtemp(prefix="flashgate-bench-"))
        os.chmod(self.tmp, 0o755)  # PostgreSQL runs as `postgres` under root
        self.bin = Path(args.bin)
        self.bench_build = Path(args.bench_build)
        self.nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.threads = args.threads or os.cpu_count() or 2
        if self.smoke:
            self.duration, self.warmup, self.connections = 1, 0, args.connections or 200
            self.tickets, self.streams, self.samples, self.window_orders = 1000, 200, 10, 200
            self.micro_min_time = 0.01
        else:
            self.duration, self.warmup, self.connections = args.duration, 2, args.connections or 1000
            self.tickets, self.streams, self.samples, self.window_orders = 10000, args.streams, 200, 10000
            self.micro_min_time = 0.2
        self.results = {}
        self.errors = {}
        self.notes = []
        self.nginx_server = None
        self.tag = f"r{os.getpid()}"
        self.started = dt.datetime.now(dt.timezone.utc)
        self.load_before = os.getloadavg()
        self.bin_identity = self.identity()

    def identity(self):
        """The server binary's build (sha256 prefix, mtime): a rebuild during the run is noted."""
        try:
            digest = hashlib.sha256(self.bin.read_bytes()).hexdigest()[:12]
            built = dt.datetime.fromtimestamp(self.bin.stat().st_mtime, dt.timezone.utc).strftime("%H:%M:%S UTC")
            return f"sha256 {digest}…, built {built}"
        except OSError:
            return "missing"

    # ---- wrk

    def wrk(self, url, script, script_args=(), connections=None, duration=None, env=None, timeout=None, label=""):
        connections = connections or self.connections
        duration = duration if duration is not None else self.duration
        argv = [
            "wrk", f"-t{min(self.threads, connections)}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
            "-s", BENCH / script, url,
        ]
        if script_args:
            argv += ["--", *script_args]
        full_env = dict(os.environ)
        full_env.update(env or {})
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(
            [str(a) for a in argv], capture_output=True, text=True, env=full_env,
            timeout=timeout or duration + 60,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        match = re.search(r"^BENCH_RESULT (\{.*\})$", out.stdout, re.M)
        if out.returncode != 0 or not match:
            raise ScenarioError(f"wrk {label} failed ({out.returncode}): {out.stdout[-800:]} {out.stderr[-800:]}")
        result = json.loads(match.group(1))
        result["wrk_cpu_s"] = round((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 2)
        return result

    def measured_wrk(self, pids, url, script, script_args_for, label, env=None, settle=None):
        """A warm-up (full runs), then the measured run; the server's CPU time is sampled around it.
        settle: called between the two (the distributed rows let Redis finish rewriting its AOF)."""
        if self.warmup:
            self.wrk(url, script, script_args_for("w"), duration=self.warmup, env=env, label=label + " warm-up")
        if settle:
            settle()
        cpu0 = proc_cpu_seconds(pids)
        t0 = time.monotonic()
        result = self.wrk(url, script, script_args_for("m"), env=env, label=label)
        elapsed = time.monotonic() - t0
        cpu = proc_cpu_seconds(pids) - cpu0
        result["server_cpu_cores"] = round(cpu / elapsed, 2)
        # CPU time per answered request: much steadier than requests/s on a shared machine.
        result["server_cpu_us_per_request"] = round(cpu * 1e6 / max(1, result["requests"]), 1)
        result["wrk_cpu_cores"] = round(result.pop("wrk_cpu_s") / elapsed, 2)
        if self.args.profile and not label.startswith("nginx"):
            result["profile"] = self.profile(label, pids, url, script, script_args_for("p"))
        return result

    def profile(self, label, pids, url, script, script_args):
        """perf (cpu-clock, DWARF call graphs) on the server process(es) during an extra
        wrk run of the same load; the measured run is not disturbed."""
        if not shutil.which("perf"):
            self.notes.append("--profile: perf is not installed")
            return None
        seconds = 2 if self.smoke else 5
        data = self.tmp / f"perf-{label.replace('/', '-')}.data"
        load = threading.Thread(
            target=lambda: self.wrk(url, script, script_args, duration=seconds + 2, label=label + " profile"))
        log(f"  {label}: perf record for {seconds} s under the same load")
        load.start()
        time.sleep(1.0)
        subprocess.run(["perf", "record", "-e", "cpu-clock", "-F", "499", "--call-graph", "dwarf,16384", "-o",
                        str(data), "-p", ",".join(str(p) for p in pids), "--", "sleep", str(seconds)],
                       capture_output=True, timeout=seconds + 120)
        load.join()

        def report(*options):
            out = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "-g", "none", *options],
                                 capture_output=True, text=True, timeout=600)
            return [line for line in out.stdout.splitlines() if line.strip() and not line.startswith("#")]

        def short(symbol):  # template arguments out, so that a line says what it is
            out, depth = [], 0
            for ch in symbol:
                if ch == "<":
                    if depth == 0:
                        out.append("<…>")
                    depth += 1
                elif ch == ">" and depth:
                    depth -= 1
                elif depth == 0:
                    out.append(ch)
            text = "".join(out).replace("(anonymous namespace)::", "").strip()
            text = re.sub(r"(\s+-)+$", "", text).strip()
            text = re.sub(r"\((?:[^()]|\([^()]*\))*\)", "()", text)  # parameter lists
            return text[:140]

        flat = []
        for line in report("--no-children", "--sort", "comm,dso,symbol", "--percent-limit", "1"):
            m = re.match(r"^\s+([\d.]+)%\s+(\S+)\s+(.+?)\s+\[(.)\]\s+(.*)$", line)
            if m:
                flat.append({"self": float(m.group(1)), "comm": m.group(2), "dso": m.group(3),
                             "symbol": short(m.group(5).strip())})
        dsos = []
        for line in report("--no-children", "--sort", "comm,dso", "--percent-limit", "1"):
            m = re.match(r"^\s+([\d.]+)%\s+(\S+)\s+(.+?)\s*$", line)
            if m:
                dsos.append({"self": float(m.group(1)), "comm": m.group(2), "dso": m.group(3)})
        inclusive, seen = [], set()
        wanted = re.compile(r"flashgate::|sqlite3_step|sqlite3WalFrames|crypto_aead|sodium_bin2base64|boost::json::parser|"
                            r"boost::json::serialize|__libc_sendmsg|__libc_recvmsg|epoll_ctl|malloc|^free|cfree|redisAsync")
        for line in report("--children", "--sort", "symbol", "--percent-limit", "1.5"):
            m = re.match(r"^\s+([\d.]+)%\s+([\d.]+)%\s+\[(.)\]\s+(.*)$", line)
            if not m or not wanted.search(m.group(4)) or "HttpServer::start" in m.group(4):
                continue
            name = short(m.group(4).strip())
            if name in seen:
                continue
            seen.add(name)
            inclusive.append({"total": float(m.group(1)), "self": float(m.group(2)), "symbol": name})
        return {"seconds": seconds, "flat": flat[:15], "dsos": dsos[:8], "inclusive": inclusive[:25]}

    def nginx_pair(self, name, script="fixed.lua", script_args_for=lambda phase: ()):
        """nginx just before a scenario, driven by the scenario's own wrk script and arguments: the load
        generator shares the cores and does the same work per request on both sides (a Lua request()
        costs wrk more than its static request), so only the server differs. That run is the reference
        of the ratios; fixed.lua's static request, wrk's cheapest, is measured too and shown alongside."""
        if self.nginx_server is None:
            self.nginx_server = Nginx(self)
        n = self.nginx_server
        url = f"http://127.0.0.1:{n.port}"
        log(f"  nginx reference for {name}" + ("" if script == "fixed.lua" else f" ({script}, then fixed.lua)"))
        r = self.measured_wrk(n.pids(), url, script, script_args_for, f"nginx/{name}")
        if script != "fixed.lua":
            r["static"] = self.measured_wrk(n.pids(), url, "fixed.lua", lambda phase: (), f"nginx/{name} static")
        self.results.setdefault("nginx", []).append(dict(r, paired_with=name))
        return r

    def paced_pair(self, name, url, script, script_args, saturated_rps):
        """Latency at the same offered load: nginx and the scenario, each at half the request rate the
        scenario reached when saturated (each connection pausing between requests), so that neither
        server is saturated and their p99s compare queueing inside the server, not a backlog."""
        rate = max(100, int(saturated_rps * 0.5))
        delay_ms = max(1, round(self.connections * 1000 / rate))
        env = {"FLASHGATE_BENCH_DELAY_MS": str(delay_ms)}
        n = self.nginx_server
        log(f"  {name}: nginx and {name} at the same offered load (about {rate:,} req/s, {delay_ms} ms between requests)")
        ref = self.wrk(f"http://127.0.0.1:{n.port}", script, script_args, env=env, label=f"nginx/{name} paced")
        own = self.wrk(url, script, script_args, env=env, label=f"{name} paced")
        return {"offered_rps": rate, "delay_ms": delay_ms,
                "rps": own["rps"], "p50_us": own["p50_us"], "p99_us": own["p99_us"], "max_us": own["max_us"],
                "nginx_rps": ref["rps"], "nginx_p50_us": ref["p50_us"], "nginx_p99_us": ref["p99_us"],
                "nginx_max_us": ref["max_us"]}

    def prebuy(self, server, sale_id, count, out_file, connections=200):
        """Buys `count` orders of a new sale (stock = count) and writes their tickets, one a line."""
        server.create_sale(sale_id, count)
        env = {"BENCH_TICKETS_OUT": str(out_file)}
        r = self.wrk(
            f"http://127.0.0.1:{server.port}", "prebuy.lua", (sale_id, f"{self.tag}-{sale_id}"),
            connections=min(connections, count), duration=120, env=env, timeout=180, label="pre-buy",
        )
        tickets = [t for t in Path(out_file).read_text().split("\n") if t]
        if len(tickets) < count * 0.9:
            raise ScenarioError(f"pre-buy got {len(tickets)} tickets of {count}: {r}")
        return tickets

    # ---- embedded

    def embedded_intake_server(self):
        if getattr(self, "_intake_server", None) is None:
            # Windows held (a long service time): these scenarios measure the
            # intake path; windows are measured on their own (windows-pg).
            self._intake_server = Flashgate(self, "embedded", {"FLASHGATE_SERVICE_TIME": "10m"})
        return self._intake_server

    def scenario_intake(self, name, server, stock, outcome, pids=None):
        sale_id = f"{name}-{self.tag}"
        server.create_sale(sale_id, stock)
        pair = self.nginx_pair(name, "intake.lua", lambda phase: (sale_id, f"{self.tag}nginx{phase}"))
        before = server.metrics()
        log(f"  {name}: wrk {self.connections} connections, {self.duration} s")
        r = self.measured_wrk(
            pids or [server.proc.pid], f"http://127.0.0.1:{server.port}", "intake.lua",
            lambda phase: (sale_id, f"{self.tag}{phase}"), name, settle=self.settle_for(name),
        )
        self.note_rewrites(name, r)
        after = server.metrics(settle=1.0)
        answers = {}
        for o in ("accepted", "repeat", "sold_out", "too_many_requests", "unavailable", "invalid_request"):
            delta = metric_sum(after, "flashgate_intake_total", outcome=o) - metric_sum(before, "flashgate_intake_total", outcome=o)
            if delta:
                answers[o] = int(delta)
        r["answers"] = answers
        r["expected"] = outcome
        r["reference"] = pair
        self.check_answers(name, r, outcome)
        r["paced"] = self.paced_pair(name, f"http://127.0.0.1:{server.port}", "intake.lua",
                                     (sale_id, f"{self.tag}paced"), r["rps"])
        self.results[name] = r

    def check_answers(self, name, r, outcome):
        total = sum(r["answers"].values())
        if total == 0:
            self.notes.append(f"{name}: the server's intake counts could not be read; answers not checked.")
            return
        share = r["answers"].get(outcome, 0) / total
        if share < 0.99:
            raise ScenarioError(f"{name}: only {share:.1%} answered {outcome}: {r['answers']}")

    def scenario_soldout(self):
        self.scenario_intake("soldout", self.embedded_intake_server(), 0, "sold_out")

    def scenario_accepted(self):
        self.scenario_intake("accepted", self.embedded_intake_server(), 1_000_000_000, "accepted")

    def scenario_poll_on(self, name, server, pids=None):
        sale_id = f"{name}-{self.tag}"
        tickets_file = self.tmp / f"{name}-tickets.txt"
        log(f"  {name}: pre-buying {self.tickets} tickets")
        tickets = self.prebuy(server, sale_id, self.tickets, tickets_file)
        pair = self.nginx_pair(name, "poll.lua", lambda phase: (str(tickets_file), "wait0"))
        before = server.metrics()
        log(f"  {name}: wrk {self.connections} connections, {self.duration} s, {len(tickets)} tickets round-robin, wait=0")
        r = self.measured_wrk(
            pids or [server.proc.pid], f"http://127.0.0.1:{server.port}", "poll.lua",
            lambda phase: (str(tickets_file), "wait0"), name, settle=self.settle_for(name),
        )
        self.note_rewrites(name, r)
        after = server.metrics(settle=1.0)
        ok = metric_sum(after, "flashgate_http_requests_total", code="200") - metric_sum(
            before, "flashgate_http_requests_total", code="200"
        )
        r["tickets"] = len(tickets)
        r["reference"] = pair
        r["answers"] = {"200": int(ok)}
        if r["errors_status"]:
            raise ScenarioError(f"{name}: {r['errors_status']} polls were not answered 200")
        r["paced"] = self.paced_pair(name, f"http://127.0.0.1:{server.port}", "poll.lua",
                                     (str(tickets_file), "wait0"), r["rps"])
        self.results[name] = r

    def scenario_poll(self):
        self.scenario_poll_on("poll", self.embedded_intake_server())

    def scenario_wakeup(self):
        server = Flashgate(self, "embedded-wakeup", {"FLASHGATE_SERVICE_TIME": "0ms"})
        try:
            sale_id = f"wakeup-{self.tag}"
            tickets_file = self.tmp / "wakeup-tickets.txt"
            count = 2 * self.samples
            self.prebuy(server, sale_id, count, tickets_file, connections=20)
            bought = len(Path(tickets_file).read_text().split())
            wait_for(lambda: server.stats(sale_id)["counts"]["CONFIRMED"] >= bought, 60, "the windows to confirm")
            samples = min(self.samples, len(Path(tickets_file).read_text().split()) // 2)
            log(f"  wakeup: {samples} long polls, then {samples} streams, one at a time")
            out = subprocess.run(
                [PYTHON, BENCH / "wakeup.py", "--port", str(server.port), "--secret", PAYMENT_SECRET,
                 "--tickets", str(tickets_file), "--samples", str(samples)],
                capture_output=True, text=True, timeout=300,
            )
            match = re.search(r"^RESULT (\{.*\})$", out.stdout, re.M)
            if out.returncode != 0 or not match:
                raise ScenarioError(f"wakeup.py failed: {out.stdout[-500:]} {out.stderr[-1500:]}")
            self.results["wakeup"] = json.loads(match.group(1))
        finally:
            server.stop()

    def scenario_sse(self):
        server = Flashgate(self, "embedded-streams", {"FLASHGATE_SERVICE_TIME": "10m", "FLASHGATE_MAX_STREAMS": "1000000"})
        holders = []
        try:
            limit = nofile_limit(server.proc.pid)
            wanted = self.streams
            count = min(wanted, limit - 200)
            if count < wanted:
                self.notes.append(
                    f"Event streams: {count} instead of {wanted}: the gateway may hold only {limit} descriptors "
                    f"(the hard RLIMIT_NOFILE of this container, which its root cannot raise)."
                )
            tickets_file = self.tmp / "sse-tickets.txt"
            log(f"  sse: pre-buying {count} tickets")
            self.prebuy(server, f"sse-{self.tag}", count, tickets_file)
            time.sleep(0.2 if self.smoke else 1.0)
            rss_before = proc_status_kib(server.proc.pid, "VmRSS")
            per_holder = max(1, min(10000, resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 100))
            log(f"  sse: opening {count} streams ({math.ceil(count / per_holder)} holder processes)")
            began = time.monotonic()
            for start in range(0, count, per_holder):
                n = min(per_holder, count - start)
                p = self.procs.start(
                    [PYTHON, BENCH / "sse_hold.py", "--port", server.port, "--tickets", tickets_file,
                     "--start", start, "--count", n],
                    self.tmp / f"sse-holder-{start}.log", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                )
                holders.append(p)
            opened, failed, first_failure = 0, 0, None
            for p in holders:
                line = self.read_line(p, "OPENED", 300)
                report = json.loads(line.split(" ", 1)[1])
                opened += report["opened"]
                failed += report["failed"]
                first_failure = first_failure or report.get("first_failure")
            open_seconds = time.monotonic() - began
            gauge = metric_sum(server.metrics(settle=0.5), "flashgate_sse_streams")
            time.sleep(0.5 if self.smoke else 2.0)  # a position tick or two
            rss_after = proc_status_kib(server.proc.pid, "VmRSS")
            fds = len(os.listdir(f"/proc/{server.proc.pid}/fd"))
            cpu0 = proc_cpu_seconds([server.proc.pid])
            hold = 1.0 if self.smoke else 5.0
            time.sleep(hold)
            idle_cpu = (proc_cpu_seconds([server.proc.pid]) - cpu0) / hold
            held, lost = 0, 0
            for p in holders:
                p.stdin.write(b"close\n")
                p.stdin.flush()
                report = json.loads(self.read_line(p, "CLOSED", 60).split(" ", 1)[1])
                held += report["held"]
                lost += report["lost"]
            if opened < count * 0.99:
                raise ScenarioError(f"sse: only {opened} of {count} streams opened (first failure: {first_failure})")
            self.results["sse"] = {
                "wanted": wanted, "streams": opened, "failed": failed, "held": held, "lost": lost,
                "server_gauge": int(gauge), "server_fds": fds, "open_seconds": round(open_seconds, 2),
                "rss_before_kib": rss_before, "rss_after_kib": rss_after,
                "kib_per_stream": round((rss_after - rss_before) / max(1, opened), 2),
                "idle_cpu_cores": round(idle_cpu, 3), "orders_queued": count,
            }
        finally:
            for p in holders:
                self.procs.stop(p)
            server.stop()

    def read_line(self, proc, prefix, timeout):
        """The next stdout line of `proc` that starts with prefix."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline().decode().strip()
                if not line and proc.poll() is not None:
                    break
                if line.startswith(prefix):
                    return line
            elif proc.poll() is not None:
                break
        raise ScenarioError(f"no {prefix} line from pid {proc.pid}: {Path(proc.log_path).read_text()[-800:]}")

    def scenario_micro(self):
        binary = self.bench_build / "flashgate_micro"
        if not binary.exists():
            raise ScenarioError(f"{binary} is missing (scripts/bench.sh builds it)")
        log(f"  micro: Google Benchmark, min time {self.micro_min_time} s each")
        out_file = self.tmp / "micro.json"
        out = subprocess.run(
            [str(binary), f"--benchmark_min_time={self.micro_min_time}", "--benchmark_format=console",
             f"--benchmark_out={out_file}", "--benchmark_out_format=json"],
            capture_output=True, text=True, timeout=600, env=dict(os.environ, TMPDIR=str(self.tmp)),
        )
        if out.returncode != 0:
            raise ScenarioError(f"flashgate_micro failed: {out.stdout[-500:]} {out.stderr[-500:]}")
        data = json.loads(out_file.read_text())
        rows = []
        for b in data["benchmarks"]:
            if b.get("error_occurred"):
                raise ScenarioError(f"{b['name']}: {b.get('error_message')}")
            rows.append({
                "name": b["name"], "real_time": b["real_time"], "cpu_time": b["cpu_time"], "unit": b["time_unit"],
                "items_per_second": b.get("items_per_second"), "iterations": b["iterations"],
            })
        self.results["micro"] = {"benchmarks": rows, "library_build": data["context"].get("library_build_type")}

    # ---- instructions per request (callgrind)

    def scenario_instructions(self):
        if not shutil.which("valgrind"):
            raise ScenarioError("valgrind is not installed (scripts/setup installs it)")
        seconds = 1 if self.smoke else 5
        results = {}
        out_dir = self.tmp / "callgrind-nginx"
        out_dir.mkdir()
        log("  instructions: nginx under callgrind")
        n = Nginx(self, "nginx-callgrind", prefix=instructions.callgrind_argv(out_dir), single=True)
        try:
            results["nginx"] = self.instructions_of(n.proc.pid, out_dir, n.port, "fixed.lua", lambda phase: (), seconds)
        finally:
            n.stop()
        for name, stock in (("soldout", 0), ("accepted", 1_000_000_000), ("poll", None)):
            log(f"  instructions: flashgate under callgrind, {name}")
            out_dir = self.tmp / f"callgrind-out-{name}"
            out_dir.mkdir()
            server = Flashgate(self, f"callgrind-{name}", {"FLASHGATE_SERVICE_TIME": "10m", "FLASHGATE_THREADS": "2"},
                               prefix=instructions.callgrind_argv(out_dir))
            try:
                sale_id = f"callgrind-{name}-{self.tag}"
                if stock is None:
                    tickets = self.tmp / f"callgrind-{name}-tickets.txt"
                    self.prebuy(server, sale_id, 300 if self.smoke else 2000, tickets, connections=20)
                    script, args_for = "poll.lua", lambda phase: (str(tickets), "wait0")
                else:
                    server.create_sale(sale_id, stock)
                    script, args_for = "intake.lua", lambda phase: (sale_id, f"{self.tag}cg{phase}")
                results[name] = self.instructions_of(server.proc.pid, out_dir, server.port, script, args_for, seconds)
            finally:
                server.stop()
        self.results["instructions"] = results

    def instructions_of(self, pid, out_dir, port, script, args_for, seconds):
        url = f"http://127.0.0.1:{port}"
        self.wrk(url, script, args_for("w"), connections=50, duration=1 if self.smoke else 2, label="callgrind warm-up")
        r, ir, top = instructions.measure(
            pid, out_dir, lambda: self.wrk(url, script, args_for("m"), connections=50, duration=seconds, label="callgrind"))
        if not r["requests"]:
            raise ScenarioError(f"{script} under callgrind: no request was answered")
        return {"requests": r["requests"], "ir": ir, "ir_per_request": ir / max(1, r["requests"]), "top": top}

    # ---- distributed

    def distributed(self):
        """Redis and PostgreSQL of the distributed scenarios, started once."""
        if getattr(self, "_dist", None) is None:
            redis_dir = self.tmp / "redis"
            redis_port = free_port()
            self.redis_start(redis_dir, redis_port)
            gateway = Flashgate(
                self, "gateway", {"FLASHGATE_STORE": f"redis://127.0.0.1:{redis_port}"},
                ["--role", "gateway", "--database", self.postgres_url()],
            )
            self._dist = {"redis_port": redis_port, "redis_dir": redis_dir, "gateway": gateway}
        return self._dist

    def redis_start(self, directory, port):
        script = REPO / "scripts" / "testenv" / "redis"
        subprocess.run([str(script), "start", str(directory), str(port)], check=True, timeout=60,
                       stdout=subprocess.DEVNULL)
        self.procs.stoppers.append(
            lambda: subprocess.run([str(script), "stop", str(directory)], timeout=60, stdout=subprocess.DEVNULL))

    def redis_pid(self, directory):
        return int((Path(directory) / "redis.pid").read_text().strip())

    def postgres_url(self):
        if getattr(self, "_pg_url", None) is None:
            script = REPO / "scripts" / "testenv" / "postgres"
            directory = self.tmp / "postgres"
            out = subprocess.run([str(script), "start", str(directory), str(free_port())], capture_output=True,
                                 text=True, timeout=180)
            if out.returncode != 0:
                raise ScenarioError(f"PostgreSQL did not start: {out.stderr[-800:]}")
            self.procs.stoppers.append(
                lambda: subprocess.run([str(script), "stop", str(directory)], timeout=120, capture_output=True))
            self._pg_url = out.stdout.strip().splitlines()[-1]
        return self._pg_url

    def settle_for(self, name):
        return self.redis_settle if name.startswith("dist-") else None

    def redis_aof(self, port):
        info = dict(line.split(":", 1) for line in self.redis_cli(port, "INFO", "persistence").splitlines()
                    if ":" in line)
        return info

    def redis_settle(self):
        """Redis rewrites its AOF in a forked child once the file has doubled (auto-aof-rewrite-percentage
        100): seconds of a core that would fall into whichever run is measuring then. One rewrite now,
        finished before the measured run, so that the run writes into a fresh file."""
        port = self._dist["redis_port"]
        out = subprocess.run(["redis-cli", "-p", str(port), "BGREWRITEAOF"], capture_output=True, text=True, timeout=60)
        log(f"  redis: {out.stdout.strip() or out.stderr.strip()}; waiting for it to finish")
        def rewrite_done():
            info = self.redis_aof(port)
            return info.get("aof_rewrite_in_progress") == "0" and info.get("aof_rewrite_scheduled") == "0"

        wait_for(rewrite_done, 300, "Redis's AOF rewrite", interval=0.2)
        self._aof_rewrites_before = int(self.redis_aof(port).get("aof_rewrites", "0"))

    def note_rewrites(self, name, r):
        if not name.startswith("dist-") or not getattr(self, "_dist", None):
            return
        during = int(self.redis_aof(self._dist["redis_port"]).get("aof_rewrites", "0")) - self._aof_rewrites_before
        r["redis_aof_rewrites"] = during
        if during:
            self.notes.append(f"{name}: Redis rewrote its AOF {during} time(s) during the measured run "
                              "(its file doubled); the forked child's CPU shares the cores.")

    def redis_cli(self, port, *args, stdin=None):
        out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *[str(a) for a in args]],
                             capture_output=True, text=True, input=stdin, timeout=60)
        if out.returncode != 0:
            raise ScenarioError(f"redis-cli {args[0]}: {out.stderr}")
        return out.stdout.strip()

    def scenario_redis_ref(self):
        d = self.distributed()
        port, gateway = d["redis_port"], d["gateway"]
        sale_id = f"redisref-{self.tag}"
        gateway.create_sale(sale_id, 1_000_000_000)  # the sale's keys, made the way the gateway makes them
        tag = hashlib.blake2b(sale_id.encode(), digest_size=16).hexdigest()[:8]  # domain::sale_tag
        prefix = f"fg:{{{tag}}}:"
        if self.redis_cli(port, "EXISTS", f"{prefix}sale:{sale_id}") != "1":
            raise ScenarioError(f"the sale's key {prefix}sale:{sale_id} is not in Redis")
        source = subprocess.run([str(self.bench_build / "dump_intake_script")], capture_output=True, text=True,
                                check=True).stdout
        sha = self.redis_cli(port, "-x", "SCRIPT", "LOAD", stdin=source)
        expected = hashlib.sha1(source.encode()).hexdigest()
        if sha != expected:
            raise ScenarioError(f"SCRIPT LOAD gave {sha}, expected {expected}")
        now = str(int(time.time() * 1000))
        command = ["EVALSHA", sha, "4", f"{prefix}sale:{sale_id}", f"{prefix}users:{sale_id}", f"{prefix}queue",
                   f"{prefix}changes", prefix, sale_id, "bench-__rand_int__", f"{tag}-o__rand_int__", now]
        seq0 = int(self.redis_cli(port, "HGET", f"{prefix}sale:{sale_id}", "seq"))

        def bench(n):
            out = subprocess.run(
                ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-n", str(n), "-r", "1000000000",
                 "--csv", *command], capture_output=True, text=True, timeout=600)
            rows = [line for line in out.stdout.splitlines() if line.startswith('"EVALSHA')]
            if out.returncode != 0 or not rows:
                raise ScenarioError(f"redis-benchmark failed: {out.stdout[-500:]} {out.stderr[-500:]}")
            cells = [c.strip('"') for c in rows[-1].split(",")]
            return {"rps": float(cells[1]), "mean_ms": float(cells[2]), "p50_ms": float(cells[4]),
                    "p99_ms": float(cells[6]), "max_ms": float(cells[7]), "requests": n}

        log("  redis-ref: calibrating")
        calibration = bench(2000 if self.smoke else 20000)
        n = max(2000, int(calibration["rps"] * self.duration))
        redis_pid = self.redis_pid(d["redis_dir"])
        cpu0, t0 = proc_cpu_seconds([redis_pid]), time.monotonic()
        log(f"  redis-ref: redis-benchmark -c 50 -n {n} EVALSHA <intake>")
        r = bench(n)
        r["redis_cpu_cores"] = round((proc_cpu_seconds([redis_pid]) - cpu0) / (time.monotonic() - t0), 2)
        accepted = int(self.redis_cli(port, "HGET", f"{prefix}sale:{sale_id}", "seq")) - seq0
        r["accepted"] = accepted
        r["script_sha1"] = sha
        r["command"] = "redis-benchmark -c 50 -n N -r 1000000000 " + " ".join(shlex.quote(c) for c in command)
        self.results["redis-ref"] = r

    def dist_pids(self):
        d = self.distributed()
        return [d["gateway"].proc.pid, self.redis_pid(d["redis_dir"])]

    def scenario_dist_accepted(self):
        d = self.distributed()
        if "redis-ref" not in self.results and "redis-ref" not in self.errors:
            self.run_scenario("redis-ref")
        self.scenario_intake("dist-accepted", d["gateway"], 1_000_000_000, "accepted", pids=self.dist_pids())
        self.results["dist-accepted"]["redis_reference"] = self.results.get("redis-ref")

    def scenario_dist_soldout(self):
        d = self.distributed()
        self.scenario_intake("dist-soldout", d["gateway"], 0, "sold_out", pids=self.dist_pids())

    def scenario_dist_poll(self):
        d = self.distributed()
        before = d["gateway"].metrics()
        self.scenario_poll_on("dist-poll", d["gateway"], pids=self.dist_pids())
        after = d["gateway"].metrics(settle=1.0)
        hits = metric_sum(after, "flashgate_near_cache_hits") - metric_sum(before, "flashgate_near_cache_hits")
        misses = metric_sum(after, "flashgate_near_cache_misses") - metric_sum(before, "flashgate_near_cache_misses")
        self.results["dist-poll"]["near_cache"] = {"hits": int(hits), "misses": int(misses)}

    def scenario_windows_pg(self):
        # A Redis of its own: the worker must find only this scenario's orders in line.
        redis_dir, redis_port = self.tmp / "redis-windows", free_port()
        self.redis_start(redis_dir, redis_port)
        url = self.postgres_url()
        store = {"FLASHGATE_STORE": f"redis://127.0.0.1:{redis_port}"}
        gateway = Flashgate(self, "windows-gateway", store, ["--role", "gateway", "--database", url])
        worker = None
        try:
            sale_id = f"windows-{self.tag}"
            count = self.window_orders
            log(f"  windows-pg: {count} orders in line, then one worker")
            self.prebuy(gateway, sale_id, count, self.tmp / "windows-tickets.txt")
            queued = gateway.stats(sale_id)["counts"]["QUEUED"]
            began = time.monotonic()
            worker = Flashgate(self, "windows-worker", store, ["--role", "worker", "--database", url])
            ready = time.monotonic()
            cpu0 = proc_cpu_seconds([worker.proc.pid])

            def done():
                counts = gateway.stats(sale_id)["counts"]
                return counts["CONFIRMED"] + counts["FAILED"] >= queued and counts

            counts = wait_for(done, 300, "the windows to finish", interval=0.05)
            finished = time.monotonic()
            windows = metric_sum(worker.metrics(), "flashgate_windows")
            self.results["windows-pg"] = {
                "orders": queued, "confirmed": counts["CONFIRMED"], "failed": counts["FAILED"],
                "seconds": round(finished - ready, 3), "orders_per_second": round(queued / (finished - ready), 1),
                "start_seconds": round(ready - began, 3), "windows": int(windows),
                "worker_cpu_cores": round((proc_cpu_seconds([worker.proc.pid]) - cpu0) / (finished - ready), 2),
            }
        finally:
            if worker:
                worker.stop()
            gateway.stop()

    def scenario_windows_sink(self):
        self.results["windows-sink"] = windows_sink.measure(
            self, lambda name, env, args: Flashgate(self, name, env, args), BENCH, PYTHON,
            (free_port, wait_for, proc_cpu_seconds, metric_sum, ScenarioError))

    # ---- driver

    def run_scenario(self, name):
        if name in self.results or name in self.errors:
            return
        log(f"scenario {name}: {TITLES[name]}")
        began = time.monotonic()
        try:
            if name == "nginx":
                self.nginx_pair("(alone)")
                return
            getattr(self, "scenario_" + name.replace("-", "_"))()
        except Exception as e:  # a failed scenario is reported, and the others still run
            self.errors[name] = f"{type(e).__name__}: {e}"
            log(f"scenario {name} FAILED: {e}")
            if self.args.verbose:
                traceback.print_exc()
        finally:
            log(f"scenario {name}: {time.monotonic() - began:.1f} s")

    def run(self, names):
        try:
            for name in names:
                if name == "nginx" and any(n in PAIRED_WITH_NGINX for n in names):
                    continue  # measured in pairs
                if name not in ("soldout", "accepted", "poll") and getattr(self, "_intake_server", None):
                    # the intake scenarios are over: their server goes, so that it takes no memory or CPU
                    self._intake_server.stop()
                    self._intake_server = None
                self.run_scenario(name)
        finally:
            self.procs.stop_all()
            self.finished = dt.datetime.now(dt.timezone.utc)
            self.load_after = os.getloadavg()
            if self.identity() != self.bin_identity:
                self.notes.append(f"{self.bin} was rebuilt during the run ({self.bin_identity} at the start, "
                                  f"{self.identity()} at the end): servers started after the rebuild ran the new one.")


# --------------------------------------------------------------------------- the report


def machine():
    info = {"nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0))}
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info["cpu"] = model
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    info["kernel"] = platform.release()
    info["nofile_hard"] = resource.getrlimit(resource.RLIMIT_NOFILE)[1]

    def version(argv, pattern=r"(\d+\.\d+(\.\d+)?)"):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            m = re.search(pattern, out.stdout + out.stderr)
            return m.group(1) if m else "?"
        except OSError:
            return "missing"

    info["versions"] = {
        "wrk": version(["wrk", "-v"], r"wrk (\S+)"),
        "nginx": version(["nginx", "-v"]),
        "redis": version(["redis-server", "--version"], r"v=(\S+)"),
        "postgresql": version(["/usr/lib/postgresql/15/bin/postgres", "--version"]),
    }
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        info["commit"] = rev + (" (src/ modified)" if dirty else "")
    except OSError:
        info["commit"] = "?"
    return info


def ms(us):
    return f"{us / 1000:.1f}"


def verdict(ok):
    return "**met**" if ok else "**missed**"


class Report:
    def __init__(self, run, command):
        self.run = run
        self.command = command
        self.lines = []

    def add(self, *lines):
        self.lines.extend(lines)

    def write(self, path):
        r = self.run
        m = machine()
        self.add(
            "# Benchmarks",
            "",
            "Written by `scripts/bench.sh`; every number below comes from one run of it, and every ratio",
            "compares two numbers of that run. Regenerate with the command below (about 5 minutes).",
            "",
            "## The run",
            "",
            f"- command: `{self.command}`" + (" (smoke run: a second per scenario, numbers meaningless)" if r.smoke else ""),
            f"- date: {r.started.strftime('%Y-%m-%d %H:%M UTC')} ({(r.finished - r.started).total_seconds() / 60:.1f} min)",
            f"- machine: {m['cpu']}, {m['nproc']} CPUs (nproc), {m.get('memory_gib', '?')} GiB memory, Linux {m['kernel']}",
            f"- flashgate {m['commit']} (`{r.bin}`: {r.bin_identity}); wrk {m['versions']['wrk']}, nginx {m['versions']['nginx']}, "
            f"redis {m['versions']['redis']}, PostgreSQL {m['versions']['postgresql']}",
            f"- load average (1 min) before / after: {r.load_before[0]:.1f} / {r.load_after[0]:.1f}. "
            "**Not a quiet machine**: other jobs (compilers, test suites) share these cores, so absolute numbers "
            "move from run to run; the paired ratios move much less.",
            f"- wrk: {r.threads} threads, {r.connections} connections, {r.duration} s per measured run"
            + (f" after a {r.warmup} s warm-up" if r.warmup else "")
            + ", keep-alive; the load generator, the servers and the references share the same cores.",
            "",
        )
        self.targets_section()
        self.http_section()
        self.wakeup_section()
        self.sse_section()
        self.windows_section()
        if "windows-sink" in r.results:
            self.add(*windows_sink.report_lines(r.results["windows-sink"]))
        self.redis_section()
        self.micro_section()
        self.instructions_section()
        self.profile_section()
        self.method_section()
        if r.errors:
            self.add("## Scenarios that failed", "")
            for name, error in r.errors.items():
                self.add(f"- `{name}`: {error}")
            self.add("")
        if r.notes:
            self.add("## Notes", "")
            for note in r.notes:
                self.add(f"- {note}")
            self.add("")
        # Before/after records of past changes (written by hand, kept across regenerations).
        history = BENCH / "history.md"
        if history.exists():
            self.add(history.read_text().rstrip(), "")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text("\n".join(self.lines).rstrip() + "\n")

    def targets_section(self):
        res = self.run.results
        rows = []

        def ratio_row(target, name, factor, ref_rps, ref_label, static_rps=None):
            if name not in res:
                return
            rps = res[name]["rps"]
            ratio = rps / ref_rps if ref_rps else 0
            measured = f"{rps:,.0f} req/s = {ratio:.2f}x {ref_label} ({ref_rps:,.0f})"
            if static_rps:
                measured += f"; {rps / static_rps:.2f}x nginx under wrk's static request ({static_rps:,.0f})"
            rows.append((target, measured, verdict(ratio >= factor)))

        def static_rps(name):
            return res[name]["reference"].get("static", {}).get("rps")

        for name, factor, label in (("soldout", 0.6, "sold-out intake"), ("accepted", 0.3, "accepted durable intake"),
                                    ("poll", 0.8, "poll")):
            if name in res:
                ratio_row(f"{label} >= {factor}x nginx", name, factor, res[name]["reference"]["rps"], "nginx",
                          static_rps(name))
        for name in ("soldout", "accepted", "poll", "dist-accepted", "dist-soldout", "dist-poll"):
            if name in res:
                p99, ref = res[name]["p99_us"], res[name]["reference"]["p99_us"]
                rows.append((f"p99 at {self.run.connections} connections <= 1.5x nginx's p99 ({name})",
                             f"{ms(p99)} ms = {p99 / ref:.2f}x nginx ({ms(ref)} ms)", verdict(p99 <= 1.5 * ref)))
        if "dist-accepted" in res and res.get("redis-ref"):
            ratio_row("distributed accepted intake >= 0.8x the script in redis-benchmark", "dist-accepted", 0.8,
                      res["redis-ref"]["rps"], "redis-benchmark")
        for name, label in (("dist-soldout", "distributed sold-out intake"), ("dist-poll", "distributed poll")):
            if name in res:
                ratio_row(f"{label} >= 0.5x nginx", name, 0.5, res[name]["reference"]["rps"], "nginx", static_rps(name))
        if "windows-sink" in res:
            w = res["windows-sink"]
            rows.append((f"windows against a sink answering in {w['delay_ms']} ms >= 0.9x windows / service time",
                         f"{w['orders_per_second']:,.0f} orders/s = {w['ratio']:.2f}x the ideal ({w['ideal']:,.0f}/s; "
                         f"{w['windows']} windows)", verdict(w["ratio"] >= 0.9)))
        if "sse" in res:
            s = res["sse"]
            rows.append((f"<= 4 KiB RSS per open event stream ({s['streams']:,} streams)",
                         f"{s['kib_per_stream']:.2f} KiB", verdict(s["kib_per_stream"] <= 4.0)))
        if not rows:
            return
        self.add("## Targets", "",
                 "nginx here is nginx answering the scenario's own requests (the same wrk script and arguments: "
                 "wrk shares the cores, and a scripted request costs it more than its static one, so only the "
                 "server differs between the two runs); the ratio to nginx under wrk's static request, the "
                 "cheapest load this machine can generate, follows it.", "",
                 "| target | measured | verdict |", "|---|---|---|")
        for row in rows:
            self.add("| " + " | ".join(row) + " |")
        self.add("")
        cost = []
        for name in ("soldout", "accepted", "poll", "dist-accepted", "dist-soldout", "dist-poll"):
            if name in res and res[name]["reference"].get("server_cpu_us_per_request"):
                mine = res[name]["server_cpu_us_per_request"]
                ref = res[name]["reference"]["server_cpu_us_per_request"]
                cost.append(f"`{name}` {mine:.0f} µs ({ref / mine:.2f}x nginx's {ref:.0f} µs)")
        if cost:
            self.add("The same comparison by CPU cost, which a busy machine disturbs less: server CPU time per "
                     "request, and nginx's cost over it (the throughput ratio the two would reach if each had "
                     "the same CPU to itself): " + "; ".join(cost) + ".", "")

    def http_section(self):
        res = self.run.results
        names = [n for n in ("soldout", "accepted", "poll", "dist-accepted", "dist-soldout", "dist-poll") if n in res]
        if not names and "nginx" not in res:
            return
        self.add(
            "## HTTP scenarios (wrk)",
            "",
            "Each row is followed by the nginx runs made just before it: nginx answering the same requests "
            "(the scenario's wrk script and arguments) and nginx under wrk's static request (`bench/fixed.lua`); "
            "ratio = requests/s over the first's, static ratio = over the second's. "
            "Server CPU: cores the server process(es) used during the measured run (the gateway and Redis for "
            "the distributed rows; nginx's master and workers); CPU µs/request: that CPU time over the requests "
            "answered, the cost of one request, which other jobs on the machine disturb much less than "
            "requests/s; wrk CPU: the load generator's.",
            "",
            "| scenario | requests/s | p50 ms | p99 ms | max ms | ratio | static ratio | server CPU | CPU µs/request | wrk CPU | answers |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        )

        def row(title, r, ratio="", answers="", static_ratio=""):
            self.add(
                f"| {title} | {r['rps']:,.0f} | {ms(r['p50_us'])} | {ms(r['p99_us'])} | {ms(r['max_us'])} | {ratio} | "
                f"{static_ratio} | "
                f"{r.get('server_cpu_cores', 0):.2f} | {r.get('server_cpu_us_per_request', 0):.1f} | "
                f"{r.get('wrk_cpu_cores', 0):.2f} | {answers} |"
            )

        for name in names:
            r = res[name]
            ref = r["reference"]
            answers = ", ".join(f"{k} {v:,}" for k, v in r.get("answers", {}).items())
            errors = sum(r[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_timeout"))
            if errors:
                answers += f"; socket errors {errors}"
            static = ref.get("static")
            row(f"`{name}`: {TITLES[name]}", r, f"{r['rps'] / ref['rps']:.2f}x", answers,
                f"{r['rps'] / static['rps']:.2f}x" if static else "")
            row("&nbsp;&nbsp;nginx, the same requests", ref)
            if static:
                row("&nbsp;&nbsp;nginx, static request", static)
        for ref in res.get("nginx", []):
            if ref.get("paired_with") == "(alone)":
                row("nginx (alone)", ref)
        self.add("")
        if "dist-poll" in res and "near_cache" in res["dist-poll"]:
            nc = res["dist-poll"]["near_cache"]
            self.add(f"Distributed polls: near-cache hits {nc['hits']:,}, misses {nc['misses']:,}.", "")
        paced = [name for name in names if res[name].get("paced")]
        if paced:
            self.add(
                "### Latency at the same offered load",
                "",
                "The p99 above (and in the targets) is that of a saturated server: with 1,000 connections always "
                "waiting, latency is connections over throughput (Little's law), so it mostly restates the "
                "requests/s. Here nginx and the scenario are each offered the same request rate, half of what the "
                "scenario reached above (1,000 connections, each pausing between an answer and its next request; "
                "nginx gets the scenario's own requests), "
                "so neither is saturated and the p99s compare the time a request spends inside each server. An "
                "accepted intake is answered after its group commit's fsync, which no constant answer waits for.",
                "",
                "| scenario | offered req/s | answered req/s | p50 ms | p99 ms | max ms | nginx answered | nginx p50 ms | "
                "nginx p99 ms | nginx max ms | p99 ratio |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            )
            for name in paced:
                p = res[name]["paced"]
                self.add(
                    f"| `{name}` | {p['offered_rps']:,} | {p['rps']:,.0f} | {ms(p['p50_us'])} | {ms(p['p99_us'])} | "
                    f"{ms(p['max_us'])} | {p['nginx_rps']:,.0f} | {ms(p['nginx_p50_us'])} | {ms(p['nginx_p99_us'])} | "
                    f"{ms(p['nginx_max_us'])} | {p['p99_us'] / max(1, p['nginx_p99_us']):.2f}x |"
                )
            self.add("")

    def wakeup_section(self):
        w = self.run.results.get("wakeup")
        if not w:
            return
        self.add(
            "## Wake-up latency",
            "",
            "From just before the signed payment notification is written to the moment the waiting client has "
            "the PAID status (one order at a time, on an otherwise idle embedded server; PAID is durable, i.e. "
            "group-committed to SQLite, before it is published, so this includes one fsync).",
            "",
            "| waiting client | samples | p50 ms | p90 ms | p99 ms | max ms |",
            "|---|---:|---:|---:|---:|---:|",
        )
        for key, title in (("longpoll", "long poll (`wait=30&since=V`)"), ("sse", "event stream"),
                           ("notify", "the notification's own 200")):
            s = w[key]
            self.add(f"| {title} | {s['samples']} | {s['p50_ms']:.2f} | {s['p90_ms']:.2f} | {s['p99_ms']:.2f} | {s['max_ms']:.2f} |")
        self.add("")

    def sse_section(self):
        s = self.run.results.get("sse")
        if not s:
            return
        self.add(
            "## Many open event streams",
            "",
            f"- streams held open by one embedded gateway: **{s['streams']:,}** (asked for {s['wanted']:,}; "
            f"failed to open {s['failed']}; closed by the server while held {s['lost']}); the server's "
            f"`flashgate_sse_streams` gauge said {s['server_gauge']:,}; its descriptors: {s['server_fds']:,}",
            f"- opened in {s['open_seconds']} s (each stream counted once its first `event: status` arrived)",
            f"- server VmRSS: {s['rss_before_kib'] / 1024:.1f} MiB before, {s['rss_after_kib'] / 1024:.1f} MiB with "
            f"the streams open: **{s['kib_per_stream']:.2f} KiB per stream** (kernel socket buffers are not in RSS)",
            f"- server CPU while the streams sit idle: {s['idle_cpu_cores']:.3f} cores (the orders are QUEUED, "
            "so every stream gets a position look-up every second)",
            "",
        )

    def windows_section(self):
        w = self.run.results.get("windows-pg")
        if not w:
            return
        self.add(
            "## Windows throughput (Redis + PostgreSQL)",
            "",
            f"{w['orders']:,} orders queued through a gateway on Redis, then one `--role worker` process "
            f"({w['windows']} windows, service time 0) started: all of them were CONFIRMED in {w['seconds']} s, "
            f"**{w['orders_per_second']:,.0f} orders/s** (CONFIRMED {w['confirmed']:,}, FAILED {w['failed']}); "
            f"the worker used {w['worker_cpu_cores']:.2f} cores; start-up to /healthz {w['start_seconds']} s "
            "(not counted). Each order: claim (Redis script), INSERT into PostgreSQL (fsync on), finish (Redis script).",
            "",
        )

    def redis_section(self):
        r = self.run.results.get("redis-ref")
        if not r:
            return
        self.add(
            "## The Redis reference",
            "",
            f"redis-benchmark, 50 clients, {r['requests']:,} requests: **{r['rps']:,.0f} scripts/s**, "
            f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, max {r['max_ms']:.2f} ms; "
            f"Redis used {r['redis_cpu_cores']:.2f} cores; {r['accepted']:,} orders accepted (the rest: random users "
            "drawn twice). Redis runs as `scripts/testenv/redis` starts it: AOF, `appendfsync always`. The script is "
            f"`scripts::intake()` printed by `build/bench/bench/dump_intake_script` (SHA-1 `{r['script_sha1']}`, the one "
            "the gateway's EVALSHA names):",
            "",
            "```",
            r["command"],
            "```",
            "",
        )

    def micro_section(self):
        mi = self.run.results.get("micro")
        if not mi:
            return
        self.add(
            "## Micro-benchmarks (Google Benchmark)",
            "",
            "`build/bench/bench/flashgate_micro` (bench/micro/). The intake rows run MemoryStore over a real "
            "SqliteDatabase in a temporary directory: `IntakeSoldOut` and `IntakeRepeatedUser` are the in-memory "
            "part alone; `IntakeDurable/N` is the full path with N intakes in flight (N share a group commit).",
            "",
            "| benchmark | time | CPU | items/s |",
            "|---|---:|---:|---:|",
        )
        for b in mi["benchmarks"]:
            ips = f"{b['items_per_second']:,.0f}" if b.get("items_per_second") else ""
            self.add(f"| `{b['name']}` | {b['real_time']:,.2f} {b['unit']} | {b['cpu_time']:,.2f} {b['unit']} | {ips} |")
        self.add("")
        if mi.get("library_build") == "debug":
            self.add("(Debian's libbenchmark reports itself as a debug build; that affects its own bookkeeping, "
                     "not the code measured, which is compiled -O3.)", "")

    def instructions_section(self):
        ins = self.run.results.get("instructions")
        if not ins:
            return
        self.add(
            "## Instructions per request (callgrind)",
            "",
            "User-space instructions per request, counted by `valgrind --tool=callgrind` (bench/instructions.py): "
            "each server under callgrind, 50 connections, counters zeroed after a warm-up. Unlike time, the "
            "count does not move with the other jobs on the machine, so a change's effect reads from one run. "
            "The kernel's work (the TCP path, about half of a poll's CPU) is not in it. nginx: one process "
            "(`master_process off`) answering `bench/fixed.lua`.",
            "",
            "| server, scenario | requests | instructions/request | over nginx's | where most of them go (self) |",
            "|---|---:|---:|---:|---|",
        )
        ref = ins.get("nginx", {}).get("ir_per_request")
        for name in ("nginx", "soldout", "accepted", "poll"):
            r = ins.get(name)
            if not r:
                continue
            over = f"{r['ir_per_request'] / ref:.1f}x" if ref and name != "nginx" else ""
            top = ", ".join(f"`{t['function']}` {t['ir'] / max(1, r['requests']):,.0f}" for t in r["top"][:4])
            self.add(f"| {name} | {r['requests']:,} | {r['ir_per_request']:,.0f} | {over} | {top} |")
        self.add("")

    def profile_section(self):
        res = self.run.results
        names = [n for n in ("soldout", "accepted", "poll", "dist-accepted", "dist-soldout", "dist-poll")
                 if res.get(n, {}).get("profile")]
        if not names:
            return
        self.add(
            "## Profiles (`--profile`)",
            "",
            "`perf record -e cpu-clock --call-graph dwarf` on the server process(es) during an extra run of the same "
            "load (the measured run is not profiled). Shares are of all samples of the profiled processes. On this "
            "virtual machine the kernel's sampling point shows up as `pvm_irq_enable`: it stands for kernel time in "
            "general (mostly the TCP loopback path), not for one function.",
            "",
        )
        for name in names:
            p = res[name]["profile"]
            self.add(f"### `{name}`", "", "By object: " + ", ".join(
                f"{d['dso']} ({d['comm']}) {d['self']:.1f}%" for d in p["dsos"]) + ".", "")
            self.add("| self % | where | symbol |", "|---:|---|---|")
            for f in p["flat"][:12]:
                self.add(f"| {f['self']:.1f} | {f['dso']} | `{f['symbol']}` |")
            self.add("", "Inclusive (the function and what it calls), selected:", "",
                     "| total % | self % | function |", "|---:|---:|---|")
            for f in p["inclusive"][:18]:
                self.add(f"| {f['total']:.1f} | {f['self']:.1f} | `{f['symbol']}` |")
            self.add("")

    def method_section(self):
        r = self.run
        self.add(
            "## How each scenario runs",
            "",
            "- **nginx** (the HTTP ceiling): nginx-light as a plain process with its own configuration in a temp "
            "dir, `worker_processes 2`, keep-alive, `return 200 '{\"ok\":true}'` as application/json, to "
            "any method and path. Before each scenario it is driven twice: by the scenario's own wrk script and "
            "arguments (the reference of the ratios: wrk runs on the same two cores, and its Lua `request()` "
            "per request costs it about a sixth more CPU than a static request, which would otherwise be "
            "counted against the server), and by `bench/fixed.lua` (wrk's static request: the ceiling).",
            "- **flashgate servers**: `build/release/flashgate serve` on 127.0.0.1 with a fresh data dir, "
            "`FLASHGATE_INTAKE_RATE=0 FLASHGATE_POLL_RATE=0` (wrk comes from one address), connection limits "
            "raised above wrk's, HTTP threads = cores (the default), log level warn.",
            "- **soldout / accepted** (`bench/intake.lua`): POST /api/sales/{id}/orders, a distinct user per "
            "request (run tag, wrk thread, counter). soldout: a sale of stock 0, so every answer is 409 "
            "sold_out from memory. accepted: a sale of stock 10^9 (larger than the run), every answer 202 after "
            "its group commit (SQLite WAL, synchronous=FULL). The windows are held (service time 10 min) in "
            "these runs so that the number is the intake path; windows are measured on their own. The answers "
            "column is the server's own `flashgate_intake_total` count for the measured run.",
            f"- **poll** (`bench/poll.lua`): {r.tickets:,} tickets bought first (`bench/prebuy.lua`), then "
            "`GET /api/orders/status?ticket=T&wait=0`, tickets round-robin. **`wait=0`** is the long-poll form "
            "that answers at once and bypasses the poll pacer: with a few thousand tickets each one comes back "
            "several times a second, sooner than its `poll_after_ms` hint, and plain polls would then be held "
            "back by up to 1 s (pacing, by design), which would measure the pacer, not the poll path.",
            "- **wakeup** (`bench/wakeup.py`): orders bought and confirmed by the windows (service time 0); "
            "for each sample a client waits (long poll with `since` = current version, or an event stream after "
            "its first event), then the probe sends the signed payment notification and times the PAID answer.",
            "- **sse** (`bench/sse_hold.py`): orders bought, then that many streams opened (one per ticket) by "
            "holder processes and held; VmRSS of the server from /proc before and after.",
            "- **redis-ref / dist-***: redis-server as `scripts/testenv/redis` (AOF, appendfsync always), "
            "one `--role gateway` process on it (no worker runs, so the queue only grows). redis-ref is measured "
            "just before dist-accepted, on the same Redis.",
            "- **windows-pg**: PostgreSQL 15 as `scripts/testenv/postgres` (fsync on), a Redis of its own.",
            "- **windows-sink** (`bench/windows_sink.py`): an asyncio sink that answers every POST 20 ms after it "
            "arrived, measured alone first with wrk (`bench/sink_post.lua`, 64 and 512 connections); then one "
            "embedded flashgate with `--windows 64 --order-sink` and a sale of 20,000 bought by wrk as fast as it "
            "can; orders/s from the first to the last final status, sampled every 20 ms.",
            "- **micro**: Google Benchmark (Debian libbenchmark-dev).",
            "- `scripts/bench.sh --profile` adds, for each HTTP scenario, a perf profile of the server under the same "
            "load (an extra run, so the measured one is undisturbed). Redis's own samples show up under "
            "`redis-check-rdb`: Debian installs redis-server as a link to that binary.",
            "",
        )


def main():
    parser = argparse.ArgumentParser(description="flashgate benchmark runner (use scripts/bench.sh)")
    parser.add_argument("--smoke", action="store_true", help="a second or so per scenario (the test suite's run)")
    parser.add_argument("--only", default="all",
                        help="comma-separated scenarios or groups (all, embedded, distributed): " + ", ".join(ALL))
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--bin", default=str(REPO / "build" / "release" / "flashgate"))
    parser.add_argument("--bench-build", default=str(REPO / "build" / "bench" / "bench"))
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run (full runs)")
    parser.add_argument("--connections", type=int, default=0, help="wrk connections (default 1000; smoke 200)")
    parser.add_argument("--threads", type=int, default=0, help="wrk threads (default: cores)")
    parser.add_argument("--streams", type=int, default=20000, help="event streams to hold open (full runs)")
    parser.add_argument("--command", default="", help="the command line to print in the report")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the server with perf during an extra run of each HTTP load")
    parser.add_argument("--keep-temp", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    names = []
    for item in args.only.split(","):
        item = item.strip()
        if item in GROUPS:
            names += GROUPS[item]
        elif item in ALL:
            names.append(item)
        else:
            parser.error(f"unknown scenario {item!r}; known: {', '.join(list(GROUPS) + ALL)}")
    names = [n for n in ALL if n in names]

    if not Path(args.bin).exists():
        parser.error(f"{args.bin} is missing; build it (cmake --preset release && cmake --build --preset release)")
    for tool in ["wrk"] + (["nginx"] if any(n in PAIRED_WITH_NGINX or n == "nginx" for n in names) else []):
        if not shutil.which(tool) and not Path("/usr/sbin/" + tool).exists():
            parser.error(f"{tool} is not installed (scripts/setup installs it)")

    run = Run(args)

    def interrupted(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, interrupted)
    log(f"temp dir {run.tmp}; scenarios: {', '.join(names)}")
    try:
        run.run(names)
    except KeyboardInterrupt:
        log("interrupted; everything started was stopped")
        return 130
    finally:
        if not args.keep_temp:
            shutil.rmtree(run.tmp, ignore_errors=True)
    command = args.command or "scripts/bench.sh " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    Report(run, command).write(args.out)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": run.results, "errors": run.errors}, indent=1))
    log(f"wrote {args.out}")
    if run.errors:
        log("failed scenarios: " + ", ".join(run.errors))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
