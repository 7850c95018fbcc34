"""docs/benchmarks.md: the run (command, machine, load), the targets, the HTTP table with its
nginx references, then each scenario's own section (scenarios/), the profiles, how each scenario
runs, what failed, the notes, and bench/history.md."""

import os
import platform
import re
import resource
import subprocess
from pathlib import Path

from . import BENCH, REPO, profile
from .scenarios import SECTIONS, TITLES

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
        for name, report_lines in SECTIONS:
            if r.results.get(name):
                self.add(*report_lines(r.results[name]))
        self.add(*profile.report_lines(r.results))
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
