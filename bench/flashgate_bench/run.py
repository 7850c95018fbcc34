"""One run of the benchmarks: its settings (a full run or --smoke), the processes it started, wrk,
and the loop over the scenarios. Every scenario gets the Run and stores its result in run.results."""

import datetime as dt
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
import traceback
from pathlib import Path

from . import BENCH, scenarios
from .processes import Processes, ScenarioError, log, proc_cpu_seconds
from .profile import profile


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
        # Servers shared by several scenarios, started by the first that needs them.
        self.nginx_server = None  # reference.py
        self.intake_server = None  # scenarios/intake.py: soldout, accepted and poll
        self.distributed = None  # distributed.py: Redis, the gateway on it
        self.postgres = None  # distributed.py: its URL
        self.aof_rewrites_before = 0  # distributed.py: Redis's count before the measured run
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
            result["profile"] = profile(self, label, pids, url, script, script_args_for("p"))
        return result

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

    # ---- driver

    def run_scenario(self, name):
        if name in self.results or name in self.errors:
            return
        log(f"scenario {name}: {scenarios.TITLES[name]}")
        began = time.monotonic()
        try:
            scenarios.MEASURE[name](self)
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
                if name == "nginx" and any(n in scenarios.PAIRED_WITH_NGINX for n in names):
                    continue  # measured in pairs
                if name not in scenarios.ON_INTAKE_SERVER and self.intake_server:
                    # the intake scenarios are over: their server goes, so that it takes no memory or CPU
                    self.intake_server.stop()
                    self.intake_server = None
                self.run_scenario(name)
        finally:
            self.procs.stop_all()
            self.finished = dt.datetime.now(dt.timezone.utc)
            self.load_after = os.getloadavg()
            if self.identity() != self.bin_identity:
                self.notes.append(f"{self.bin} was rebuilt during the run ({self.bin_identity} at the start, "
                                  f"{self.identity()} at the end): servers started after the rebuild ran the new one.")
