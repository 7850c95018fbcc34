#!/usr/bin/env python3
"""Accepted intake of one hot sale on a single Redis and on a 3-master Redis Cluster (issue #25).

Each run starts its Redis (scripts/testenv/redis: AOF, appendfsync always) or
Redis Cluster (scripts/testenv/redis-cluster: 3 masters, the same per node),
`--gateways` gateway processes on it (one PostgreSQL for every run, as the
gateways need their database), creates one sale of --stock units (more than
any run takes, so every intake is accepted; the cluster's sale in --buckets
buckets) and drives it with wrk and bench/intake.lua (a new buyer per
request) for --duration seconds, one wrk per gateway, after a warm-up. No
worker runs: the queue only grows, as in the dist-accepted scenario of
bench/runner.py, and no stock moves between buckets (every bucket has plenty).

What is compared, and how to make it like for like:
  - replicas: none by default on either side; --replicas 1 gives every master
    a replica, the single Redis included, so both sides replicate and WAIT;
  - the script: the single Redis's sale has one bucket (the issue's
    comparison); --single-buckets gives it --buckets too (the same script);
  - cluster mode: --single-cluster runs the single Redis as a one-node cluster
    reached through redis-cluster:// (cluster mode's own cost, apart from the
    split over three masters);
  - the load per process: --single-connections C/3 gives the single Redis as
    many requests in flight as each master has (comparable batches per event
    loop pass: with appendfsync always, a pass writes and fsyncs the AOF once).

Measured per run, over the measured seconds only (INFO commandstats reset
after the warm-up, summed over the masters):
  - accepted intakes per second (wrk's answers, all 202; checked against the
    sale's stats);
  - the intake script's calls per master (evalsha), and how far the busiest
    and the idlest master are from their mean;
  - the intake script's usec in commandstats (evalsha, which includes the
    commands it runs) over the accepted intakes: the issue's measure. It times
    the script by the clock, so a node preempted mid-script counts the wait
    too (on 2 shared cores, three masters preempt each other); and each
    command's calls and usec per accepted intake (what else runs: feed reads,
    WAIT), and all of it but the script's own commands (counted inside evalsha);
  - the CPU the Redis processes used (INFO cpu), user and system apart, and
    their socket reads per accepted intake (INFO stats: fewer, bigger
    batches); the gateways' CPU (/proc);
  - --perf DIR: perf record (cpu-clock, DWARF call chains) of the masters;
    the script's CPU is the share of samples inside evalGenericCommand times
    the CPU the masters used: CPU time, which a preempted process does not
    accrue while it waits;
  - --fifo PRIORITY: every Redis process (masters and replicas, every thread)
    under SCHED_FIFO at PRIORITY (chrt), on both sides: a node running a
    command is then not preempted by another node, the gateway, wrk or any
    other job of the machine, so commandstats' clock times the command's own
    execution, not the waits of a node switched out mid-script (each node
    still yields when it blocks, e.g. in epoll_wait or fsync);
  - --callgrind: every node under callgrind, counting the instructions inside
    evalGenericCommand per call (warm-up included): neither preemption, nor
    caches, nor other jobs change it. Slow: use few --connections.

Runs alternate (single, cluster, single, cluster, ...) so that whatever else
the machine does weighs on both alike. Prints one JSON document.

    /usr/bin/python3 bench/cluster_intake.py [--duration 10] [--rounds 2] [--buckets 3] [--gateways 2]
        [--replicas 1] [--single-buckets] [--single-cluster] [--single-connections N] [--perf DIR] [--callgrind]
        [--fifo 10]
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTENV = ROOT / "scripts" / "testenv"
ADMIN = "bench-admin-token"


def log(text):
    print(text, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *map(str, args)],
                         capture_output=True, text=True, timeout=60)
    return out.stdout


def commandstats(port):
    """{command: (calls, usec)} of one node."""
    stats = {}
    for line in cli(port, "INFO", "commandstats").splitlines():
        m = re.match(r"cmdstat_([^:]+):calls=(\d+),usec=(\d+)", line)
        if m:
            stats[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return stats


def info(port, section):
    return dict(line.strip().split(":", 1) for line in cli(port, "INFO", section).splitlines() if ":" in line)


def cpu_seconds(port):
    """(used_cpu_user, used_cpu_sys) of one node (INFO cpu): the CPU its process really used, whatever
    preempted it, unlike commandstats' clock."""
    cpu = info(port, "cpu")
    return float(cpu["used_cpu_user"]), float(cpu["used_cpu_sys"])


def reads_processed(port):
    """How many times the node read a client's socket (INFO stats): fewer per intake, bigger batches."""
    return int(info(port, "stats")["total_reads_processed"])


def wait_until(check, what, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not happen in {seconds} s")


def process_cpu_seconds(pid):
    """utime + stime of a process (/proc/PID/stat), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http(method, url, body=None, headers=None):
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


class Redis:
    """A single Redis or a Redis Cluster in `directory`; `masters` are the ports commandstats is read from.

    kind: "single" (a plain Redis, redis://), "single-cluster" (one Redis in cluster mode owning every
    slot, reached as redis-cluster://: what cluster mode and the cluster client cost, apart from the
    split over masters) or "cluster" (3 masters). replicas: one replica per master, the single Redis
    included, so that both sides replicate and WAIT alike."""

    def __init__(self, directory, kind, replicas, callgrind=None):
        self.dir, self.kind, self.replicas = Path(directory), kind, replicas
        self.masters, self.replica_ports, self.replica_dirs, self.url = [], [], [], None
        self.env = {**os.environ}
        self.callgrind = callgrind
        if callgrind:
            # Every node under callgrind: instructions, which neither preemption nor the other jobs on the
            # machine change, counted inside evalGenericCommand only (what commandstats times).
            wrapper = self.dir / "redis-server-callgrind"
            self.dir.mkdir(parents=True, exist_ok=True)
            wrapper.write_text("#!/bin/sh\nexec valgrind -q --tool=callgrind --toggle-collect=evalGenericCommand "
                               + f"--callgrind-out-file={self.dir}/callgrind.out.%p /usr/bin/redis-server \"$@\"\n")
            wrapper.chmod(0o755)
            self.env["REDIS_SERVER"] = str(wrapper)

    def _start_one(self, name, port, *options):
        subprocess.run([str(TESTENV / "redis"), "start", str(self.dir / name), str(port), *options], check=True,
                       timeout=60, stdout=subprocess.DEVNULL, env=self.env)

    def start(self):
        if self.kind != "cluster":
            port = free_port()
            if self.kind == "single":
                self._start_one("master", port)
                self.url = f"redis://127.0.0.1:{port}"
            else:
                self._start_one("master", port, "--cluster-enabled", "yes", "--cluster-port", str(free_port()),
                                "--cluster-config-file", "nodes.conf")
                cli(port, "CLUSTER", "ADDSLOTSRANGE", 0, 16383)
                wait_until(lambda: "cluster_state:ok" in cli(port, "CLUSTER", "INFO"), "the one-node cluster")
                self.url = f"redis-cluster://127.0.0.1:{port}"
            self.masters = [port]
            if self.replicas:
                if self.kind != "single":
                    raise RuntimeError("--replicas 1 with --single-cluster is not supported")
                replica = free_port()
                self._start_one("replica", replica, "--replicaof", "127.0.0.1", str(port))
                self.replica_dirs.append(self.dir / "replica")
                self.replica_ports.append(replica)
                wait_until(lambda: "master_link_status:up" in cli(replica, "INFO", "replication"), "the replica's sync")
            return self
        count = 3 * (1 + self.replicas)
        ports = set()
        while len(ports) < 2 * count:
            ports.add(free_port())
        ports = sorted(ports)
        nodes = [f"{p}:{b}" for p, b in zip(ports[:count], ports[count:])]
        env = {**self.env, "CLUSTER_REPLICAS": str(self.replicas)}
        subprocess.run([str(TESTENV / "redis-cluster"), "start", str(self.dir), *nodes], check=True, timeout=120,
                       env=env, stdout=subprocess.DEVNULL)
        self.url = "redis-cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports[:count])
        self.masters = [p for p in ports[:count] if "role:master" in cli(p, "INFO", "replication")]
        self.replica_ports = [p for p in ports[:count] if p not in self.masters]
        return self

    def instructions(self):
        """Stops the masters (callgrind writes its counts at exit) and sums their instructions."""
        pids = self.pids()
        for pid in pids:
            os.kill(pid, 15)
        total = 0
        for pid in pids:
            out = self.dir / f"callgrind.out.{pid}"
            wait_until(lambda: not Path(f"/proc/{pid}").exists() and out.exists(), f"the exit of callgrind {pid}", 120)
            total += int(re.search(r"^totals: (\d+)", out.read_text(), re.M).group(1))
        return total

    def stop(self):
        if self.callgrind:  # testenv's stop knows redis-server processes only
            for port in self.masters + self.replica_ports:
                try:
                    os.kill(int(info(port, "server")["process_id"]), 9)
                except (KeyError, OSError):
                    pass
        if self.kind == "cluster":
            subprocess.run([str(TESTENV / "redis-cluster"), "stop", str(self.dir)], timeout=60,
                           stdout=subprocess.DEVNULL)
            return
        for directory in [*self.replica_dirs, self.dir / "master"]:
            subprocess.run([str(TESTENV / "redis"), "stop", str(directory)], timeout=60, stdout=subprocess.DEVNULL)

    def pids(self):
        return [int(info(port, "server")["process_id"]) for port in self.masters]

    def realtime(self, priority):
        """Every node, every thread, under SCHED_FIFO: a command runs to its end once started."""
        for port in self.masters + self.replica_ports:
            pid = info(port, "server")["process_id"]
            subprocess.run(["chrt", "--all-tasks", "--fifo", "--pid", str(priority), pid], check=True, timeout=10)

    def reset_stats(self):
        for port in self.masters:
            cli(port, "CONFIG", "RESETSTAT")

    def stats(self):
        return {port: commandstats(port) for port in self.masters}

    def cpu(self):
        """(user, sys) seconds summed over the masters."""
        used = [cpu_seconds(port) for port in self.masters]
        return sum(u for u, _s in used), sum(s for _u, s in used)

    def reads(self):
        return sum(reads_processed(port) for port in self.masters)


class Profile:
    """perf record (cpu-clock, DWARF call chains) of the masters over the measured seconds: which share
    of their CPU ran inside the intake script (evalGenericCommand, what commandstats' evalsha times),
    a script cost that a preempted process does not inflate: cpu-clock samples only while it runs."""

    def __init__(self, directory, name, pids, frequency):
        self.data = Path(directory) / f"perf-{name}.data"
        self.proc = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", str(frequency), "--call-graph",
                                      "dwarf,16384", "-p", ",".join(map(str, pids)), "-o", str(self.data)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        self.proc.send_signal(2)
        self.proc.wait(timeout=120)

    def shares(self, symbols):
        """{symbol: percent of the samples with it anywhere in the call chain}."""
        out = subprocess.run(["perf", "report", "-i", str(self.data), "--children", "--sort", "sym", "--stdio", "-q",
                              "-g", "none"], capture_output=True, text=True, timeout=600).stdout
        found = {}
        for line in out.splitlines():
            m = re.match(r"\s*([\d.]+)%\s+([\d.]+)%\s+\[[.k]\]\s+(\S+)", line)
            if m and m.group(3) in symbols and m.group(3) not in found:
                found[m.group(3)] = float(m.group(1))
        return {symbol: found.get(symbol, 0.0) for symbol in symbols}


def start_gateway(binary, work, name, store, database, env_extra):
    port = free_port()
    data = work / name
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHGATE_")}
    env.update(FLASHGATE_ADMIN_TOKEN=ADMIN, FLASHGATE_PAYMENT_SECRET="bench-secret",
               FLASHGATE_TICKET_KEYS=env_extra["keys"], FLASHGATE_INTAKE_RATE="0", FLASHGATE_LOG_LEVEL="warn")
    out = open(data / "gateway.log", "ab")
    proc = subprocess.Popen([str(binary), "serve", "--role", "gateway", "--listen", f"127.0.0.1:{port}",
                             "--data-dir", str(data), "--store", store, "--database", database],
                            env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the gateway exited ({proc.returncode}); see {data}/gateway.log")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the gateway did not become ready")


def wrk(ports, sale_id, tag, seconds, connections):
    """One wrk per gateway at once; the summed requests/s and every run's result."""
    procs = []
    for i, port in enumerate(ports):
        procs.append(subprocess.Popen(
            ["wrk", "-t", "1", "-c", str(max(1, connections // len(ports))), "-d", f"{seconds}s", "--latency",
             "-s", str(ROOT / "bench" / "intake.lua"), f"http://127.0.0.1:{port}", "--", sale_id, f"{tag}g{i}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=seconds + 120)
        line = next((l for l in out.splitlines() if l.startswith("BENCH_RESULT ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result: {out[-500:]} {err[-500:]}")
        results.append(json.loads(line.split(" ", 1)[1]))
    return results


# The commands the intake script runs: commandstats counts them apart and again inside evalsha.
SCRIPT_COMMANDS = {"hget", "hmget", "hincrby", "hset", "xadd"}
PROFILED = ("evalGenericCommand", "getNodeByQuery", "flushAppendOnlyFile", "readQueryFromClient",
            "handleClientsWithPendingWrites", "clusterCron", "clusterBeforeSleep", "replicationFeedSlaves")


def one_run(args, work, database, kind, index):
    cluster = kind == "cluster"
    name = f"{kind}-{index}"
    redis = Redis(work / f"redis-{name}", kind, args.replicas, args.callgrind).start()
    if args.fifo:
        redis.realtime(args.fifo)
    gateways = []
    try:
        keys = os.urandom(32).hex()
        for g in range(args.gateways):
            gateways.append(start_gateway(args.binary, work, f"{name}-gw{g}", redis.url, database, {"keys": keys}))
        ports = [port for _proc, port in gateways]
        sale_id = f"hot-{name}-{os.urandom(3).hex()}"
        body = {"sale_id": sale_id, "item": "hot item", "stock": args.stock}
        bucketed = cluster or args.single_buckets
        if bucketed:
            body["buckets"] = args.buckets
        http("POST", f"http://127.0.0.1:{ports[0]}/api/admin/sales", body, {"Authorization": f"Bearer {ADMIN}"})
        connections = args.connections if cluster or not args.single_connections else args.single_connections
        wrk(ports, sale_id, "warm", args.warmup, connections)
        before = http("GET", f"http://127.0.0.1:{ports[0]}/api/admin/sales/{sale_id}/stats",
                      headers={"Authorization": f"Bearer {ADMIN}"})
        warm_calls = sum(s.get("evalsha", (0, 0))[0] for s in redis.stats().values())
        redis.reset_stats()
        profile = Profile(args.perf, name, redis.pids(), args.perf_frequency) if args.perf else None
        cpu_before, reads_before = redis.cpu(), redis.reads()
        gateways_before = sum(process_cpu_seconds(proc.pid) for proc, _port in gateways)
        results = wrk(ports, sale_id, "run", args.duration, connections)
        stats = redis.stats()
        cpu_after, reads = redis.cpu(), redis.reads() - reads_before
        if profile:
            profile.stop()
        user_used, sys_used = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
        cpu_used = user_used + sys_used
        gateways_used = sum(process_cpu_seconds(proc.pid) for proc, _port in gateways) - gateways_before
        after = http("GET", f"http://127.0.0.1:{ports[0]}/api/admin/sales/{sale_id}/stats",
                     headers={"Authorization": f"Bearer {ADMIN}"})
        accepted = sum(after["counts"].values()) - sum(before["counts"].values())
        # Over the whole life of the nodes (callgrind counts from the start): the warm-up's calls too.
        instructions = redis.instructions() if args.callgrind else None
        errors = sum(r["errors_status"] + r["errors_connect"] + r["errors_read"] + r["errors_timeout"] for r in results)
        seconds = max(r["duration_us"] for r in results) / 1e6
        calls = {port: s.get("evalsha", (0, 0))[0] for port, s in stats.items()}
        mean = statistics.mean(calls.values())
        per_accepted = lambda value: round(value / accepted, 2) if accepted else None
        run = {
            "deployment": "cluster" if cluster else "single", "redis": kind, "masters": len(redis.masters),
            "replicas_per_master": args.replicas, "load_average_1m": round(os.getloadavg()[0], 2),
            "buckets": args.buckets if bucketed else 1, "gateways": args.gateways, "connections": connections,
            "accepted_per_s": round(accepted / seconds, 1), "accepted": accepted, "wrk_errors": errors,
            "wrk_requests": sum(r["requests"] for r in results),
            "p50_us": max(r["p50_us"] for r in results), "p99_us": max(r["p99_us"] for r in results),
            "evalsha_calls_per_master": list(calls.values()),
            "spread_max_over_mean": round(max(calls.values()) / mean, 3) if mean else None,
            "spread_min_over_mean": round(min(calls.values()) / mean, 3) if mean else None,
            "evalsha_usec_per_call": round(sum(s.get("evalsha", (0, 0))[1] for s in stats.values())
                                           / max(1, sum(calls.values())), 2),
            "redis_process_cpu_us_per_accepted": per_accepted(cpu_used * 1e6),
            "redis_user_cpu_us_per_accepted": per_accepted(user_used * 1e6),
            "redis_sys_cpu_us_per_accepted": per_accepted(sys_used * 1e6),
            "redis_socket_reads_per_accepted": round(reads / accepted, 4) if accepted else None,
            "gateway_cpu_us_per_accepted": round(gateways_used * 1e6 / accepted, 2) if accepted else None,
            "evalsha_usec_per_accepted": round(sum(s.get("evalsha", (0, 0))[1] for s in stats.values()) / accepted, 2)
                                         if accepted else None,
            # Everything the masters ran for the clients: the script and what runs beside it (feed reads, WAIT...).
            "commandstats_usec_per_accepted": per_accepted(sum(usec for s in stats.values() for c, (_n, usec) in s.items()
                                                                if c not in SCRIPT_COMMANDS)),
            "commands": {c: [sum(s.get(c, (0, 0))[0] for s in stats.values()), sum(s.get(c, (0, 0))[1] for s in stats.values())]
                         for c in sorted({c for s in stats.values() for c in s})},
        }
        if instructions is not None:
            run["callgrind_script_instructions_per_call"] = round(instructions / (warm_calls + sum(calls.values())))
        if profile:
            shares = profile.shares(PROFILED)
            run["perf_share_percent"] = shares
            # The script's CPU: its share of the samples times the CPU the masters used.
            run["perf_script_cpu_us_per_accepted"] = per_accepted(cpu_used * 1e6 * shares["evalGenericCommand"] / 100)
        log(f"{name}: {run['accepted_per_s']:,.0f} accepted/s, evalsha per master {run['evalsha_calls_per_master']}, "
            f"script {run['evalsha_usec_per_accepted']} us and Redis CPU {run['redis_process_cpu_us_per_accepted']} us "
            f"per accepted intake (user {run['redis_user_cpu_us_per_accepted']}, sys {run['redis_sys_cpu_us_per_accepted']}"
            + (f", script by perf {run['perf_script_cpu_us_per_accepted']}" if profile else "") + ")")
        return run
    finally:
        for proc, _port in gateways:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=str(ROOT / "build/release/flashgate"))
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per run")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="pairs of runs (single, cluster)")
    parser.add_argument("--buckets", type=int, default=3)
    parser.add_argument("--single-buckets", action="store_true",
                        help="the single Redis's sale in --buckets buckets too (what buckets cost, apart from the cluster)")
    parser.add_argument("--single-cluster", action="store_true",
                        help="the single Redis in cluster mode, owning every slot, reached as redis-cluster:// "
                             "(what cluster mode costs, apart from the split over three masters)")
    parser.add_argument("--replicas", type=int, default=0, choices=(0, 1),
                        help="a replica per master, the single Redis's included (both sides then WAIT)")
    parser.add_argument("--perf", metavar="DIR",
                        help="perf record the masters into DIR and report the script's CPU from the samples")
    parser.add_argument("--callgrind", action="store_true",
                        help="run every node under callgrind and count the instructions inside the intake script "
                             "per call (slow: use few --connections)")
    parser.add_argument("--fifo", type=int, metavar="PRIORITY",
                        help="every Redis process under SCHED_FIFO at PRIORITY (chrt), both sides: commandstats then "
                             "times commands that no other process preempts mid-way")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, callgrind counts)")
    parser.add_argument("--perf-frequency", type=int, default=199, help="perf samples a second per process")
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--connections", type=int, default=200, help="wrk connections over all gateways")
    parser.add_argument("--single-connections", type=int,
                        help="wrk connections for the single Redis's runs (default --connections): a third of the "
                             "cluster's gives each Redis process the same commands in flight, so comparable batches")
    parser.add_argument("--stock", type=int, default=50_000_000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        parser.error("wrk is not installed (scripts/setup installs it)")

    work = Path(tempfile.mkdtemp(prefix="flashgate-cluster-bench-"))
    pg_dir = work / "postgres"
    work.chmod(0o755)
    database = subprocess.run([str(TESTENV / "postgres"), "start", str(pg_dir), str(free_port())], check=True,
                              capture_output=True, text=True, timeout=180).stdout.strip().splitlines()[-1]
    runs = []
    try:
        for index in range(args.rounds):
            for kind in ("single-cluster" if args.single_cluster else "single", "cluster"):
                runs.append(one_run(args, work, database, kind, index))
    finally:
        subprocess.run([str(TESTENV / "postgres"), "stop", str(pg_dir)], timeout=120, capture_output=True)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    def median(deployment, field):
        return statistics.median(r[field] for r in runs if r["deployment"] == deployment)

    summary = {
        "single_accepted_per_s": median("single", "accepted_per_s"),
        "cluster_accepted_per_s": median("cluster", "accepted_per_s"),
        "single_script_usec_per_accepted": median("single", "evalsha_usec_per_accepted"),
        "cluster_script_usec_per_accepted": median("cluster", "evalsha_usec_per_accepted"),
        "single_redis_process_cpu_us_per_accepted": median("single", "redis_process_cpu_us_per_accepted"),
        "single_gateway_cpu_us_per_accepted": median("single", "gateway_cpu_us_per_accepted"),
        "cluster_gateway_cpu_us_per_accepted": median("cluster", "gateway_cpu_us_per_accepted"),
        "cluster_redis_process_cpu_us_per_accepted": median("cluster", "redis_process_cpu_us_per_accepted"),
    }
    for field in ("commandstats_usec_per_accepted", "redis_user_cpu_us_per_accepted", "redis_sys_cpu_us_per_accepted", "redis_socket_reads_per_accepted")\
            + (("perf_script_cpu_us_per_accepted",) if args.perf else ())\
            + (("callgrind_script_instructions_per_call",) if args.callgrind else ()):
        summary[f"single_{field}"], summary[f"cluster_{field}"] = median("single", field), median("cluster", field)
        summary[f"cluster_over_single_{field}"] = (round(summary[f"cluster_{field}"] / summary[f"single_{field}"], 3)
                                                   if summary[f"single_{field}"] else None)
    # Round by round too: the median of a few rounds on a shared machine hides how far apart they are.
    pairs = list(zip([r for r in runs if r["deployment"] == "single"], [r for r in runs if r["deployment"] == "cluster"]))
    for field in ("commandstats_usec_per_accepted", "redis_process_cpu_us_per_accepted"):
        summary[f"cluster_over_single_{field}_by_round"] = [round(c[field] / s[field], 3) if s[field] else None
                                                            for s, c in pairs]
    summary["cluster_over_single_rate"] = round(summary["cluster_accepted_per_s"] / summary["single_accepted_per_s"], 3)
    summary["cluster_over_single_script_usec"] = round(
        summary["cluster_script_usec_per_accepted"] / summary["single_script_usec_per_accepted"], 3)
    summary["cluster_over_single_process_cpu"] = round(
        summary["cluster_redis_process_cpu_us_per_accepted"] / summary["single_redis_process_cpu_us_per_accepted"], 3)
    print(json.dumps({"args": vars(args), "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                      "summary": summary, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
