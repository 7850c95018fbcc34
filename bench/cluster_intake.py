#!/usr/bin/env python3
"""Accepted intake of one hot sale on a single Redis and on a 3-master Redis Cluster (issue #25).

Each run starts its Redis (scripts/testenv/redis: AOF, appendfsync always) or
Redis Cluster (scripts/testenv/redis-cluster: 3 masters, the same per node,
no replicas unless --replicas 1), `--gateways` gateway processes on it (one
PostgreSQL for every run, as the gateways need their database), creates one
sale of --stock units (more than any run takes, so every intake is accepted;
the cluster's sale in --buckets buckets) and drives it with wrk and
bench/intake.lua (a new buyer per request) for --duration seconds, one wrk per
gateway, after a warm-up. No worker runs: the queue only grows, as in the
dist-accepted scenario of bench/runner.py.

Measured per run, over the measured seconds only (INFO commandstats reset
after the warm-up, summed over the masters):
  - accepted intakes per second (wrk's answers, all 202; checked against the
    sale's stats);
  - the intake script's calls per master (evalsha), and how far the busiest
    and the idlest master are from their mean;
  - Redis time per accepted intake: the intake script's usec in commandstats
    (evalsha, which includes the commands it runs), summed over the masters,
    over the accepted intakes; commandstats times a command by the clock, so a
    node preempted mid-script counts the wait too: also the CPU the Redis
    processes used in all (INFO cpu: scripts, the feeds' reads, the AOF
    writes), and the gateways' CPU (/proc), over the same intakes.

Runs alternate (single, cluster, single, cluster, ...) so that whatever else
the machine does weighs on both alike. Prints one JSON document.

    /usr/bin/python3 bench/cluster_intake.py [--duration 10] [--rounds 2] [--buckets 3] [--gateways 2]
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


def cpu_seconds(port):
    """used_cpu_sys + used_cpu_user of one node (INFO cpu): the CPU its process really used."""
    info = dict(line.split(":", 1) for line in cli(port, "INFO", "cpu").splitlines() if ":" in line)
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


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
    """A single Redis or a Redis Cluster in `directory`; `masters` are the ports commandstats is read from."""

    def __init__(self, directory, cluster, replicas):
        self.dir, self.cluster, self.replicas = Path(directory), cluster, replicas
        self.masters, self.url = [], None

    def start(self):
        if not self.cluster:
            port = free_port()
            subprocess.run([str(TESTENV / "redis"), "start", str(self.dir), str(port)], check=True, timeout=60,
                           stdout=subprocess.DEVNULL)
            self.masters, self.url = [port], f"redis://127.0.0.1:{port}"
            return self
        count = 3 * (1 + self.replicas)
        ports = set()
        while len(ports) < 2 * count:
            ports.add(free_port())
        ports = sorted(ports)
        nodes = [f"{p}:{b}" for p, b in zip(ports[:count], ports[count:])]
        env = {**os.environ, "CLUSTER_REPLICAS": str(self.replicas)}
        subprocess.run([str(TESTENV / "redis-cluster"), "start", str(self.dir), *nodes], check=True, timeout=120,
                       env=env, stdout=subprocess.DEVNULL)
        self.url = "redis-cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports[:count])
        self.masters = [p for p in ports[:count] if "role:master" in cli(p, "INFO", "replication")]
        return self

    def stop(self):
        script = "redis-cluster" if self.cluster else "redis"
        subprocess.run([str(TESTENV / script), "stop", str(self.dir)], timeout=60, stdout=subprocess.DEVNULL)

    def reset_stats(self):
        for port in self.masters:
            cli(port, "CONFIG", "RESETSTAT")

    def stats(self):
        return {port: commandstats(port) for port in self.masters}

    def cpu(self):
        return sum(cpu_seconds(port) for port in self.masters)


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


def one_run(args, work, database, cluster, index):
    name = f"{'cluster' if cluster else 'single'}-{index}"
    redis = Redis(work / f"redis-{name}", cluster, args.replicas).start()
    gateways = []
    try:
        keys = os.urandom(32).hex()
        for g in range(args.gateways):
            gateways.append(start_gateway(args.binary, work, f"{name}-gw{g}", redis.url, database, {"keys": keys}))
        ports = [port for _proc, port in gateways]
        sale_id = f"hot-{name}-{os.urandom(3).hex()}"
        body = {"sale_id": sale_id, "item": "hot item", "stock": args.stock}
        if cluster or args.single_buckets:
            body["buckets"] = args.buckets
        http("POST", f"http://127.0.0.1:{ports[0]}/api/admin/sales", body, {"Authorization": f"Bearer {ADMIN}"})
        wrk(ports, sale_id, "warm", args.warmup, args.connections)
        before = http("GET", f"http://127.0.0.1:{ports[0]}/api/admin/sales/{sale_id}/stats",
                      headers={"Authorization": f"Bearer {ADMIN}"})
        redis.reset_stats()
        cpu_before = redis.cpu()
        gateways_before = sum(process_cpu_seconds(proc.pid) for proc, _port in gateways)
        results = wrk(ports, sale_id, "run", args.duration, args.connections)
        stats = redis.stats()
        cpu_used = redis.cpu() - cpu_before
        gateways_used = sum(process_cpu_seconds(proc.pid) for proc, _port in gateways) - gateways_before
        after = http("GET", f"http://127.0.0.1:{ports[0]}/api/admin/sales/{sale_id}/stats",
                     headers={"Authorization": f"Bearer {ADMIN}"})
        accepted = sum(after["counts"].values()) - sum(before["counts"].values())
        errors = sum(r["errors_status"] + r["errors_connect"] + r["errors_read"] + r["errors_timeout"] for r in results)
        seconds = max(r["duration_us"] for r in results) / 1e6
        calls = {port: s.get("evalsha", (0, 0))[0] for port, s in stats.items()}
        mean = statistics.mean(calls.values())
        run = {
            "deployment": "cluster" if cluster else "single", "masters": len(redis.masters),
            "buckets": args.buckets if cluster or args.single_buckets else 1, "gateways": args.gateways,
            "accepted_per_s": round(accepted / seconds, 1), "accepted": accepted, "wrk_errors": errors,
            "wrk_requests": sum(r["requests"] for r in results),
            "p50_us": max(r["p50_us"] for r in results), "p99_us": max(r["p99_us"] for r in results),
            "evalsha_calls_per_master": list(calls.values()),
            "spread_max_over_mean": round(max(calls.values()) / mean, 3) if mean else None,
            "spread_min_over_mean": round(min(calls.values()) / mean, 3) if mean else None,
            "evalsha_usec_per_call": round(sum(s.get("evalsha", (0, 0))[1] for s in stats.values())
                                           / max(1, sum(calls.values())), 2),
            "redis_process_cpu_us_per_accepted": round(cpu_used * 1e6 / accepted, 2) if accepted else None,
            "gateway_cpu_us_per_accepted": round(gateways_used * 1e6 / accepted, 2) if accepted else None,
            "evalsha_usec_per_accepted": round(sum(s.get("evalsha", (0, 0))[1] for s in stats.values()) / accepted, 2)
                                         if accepted else None,
            "commands": {c: [sum(s.get(c, (0, 0))[0] for s in stats.values()), sum(s.get(c, (0, 0))[1] for s in stats.values())]
                         for c in sorted({c for s in stats.values() for c in s})},
        }
        log(f"{name}: {run['accepted_per_s']:,.0f} accepted/s, evalsha per master {run['evalsha_calls_per_master']}, "
            f"script {run['evalsha_usec_per_accepted']} us and Redis CPU {run['redis_process_cpu_us_per_accepted']} us "
            f"per accepted intake")
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
    parser.add_argument("--replicas", type=int, default=0, choices=(0, 1), help="replicas per master in the cluster")
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--connections", type=int, default=200, help="wrk connections over all gateways")
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
            for cluster in (False, True):
                runs.append(one_run(args, work, database, cluster, index))
    finally:
        subprocess.run([str(TESTENV / "postgres"), "stop", str(pg_dir)], timeout=120, capture_output=True)
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
    summary["cluster_over_single_rate"] = round(summary["cluster_accepted_per_s"] / summary["single_accepted_per_s"], 3)
    summary["cluster_over_single_script_usec"] = round(
        summary["cluster_script_usec_per_accepted"] / summary["single_script_usec_per_accepted"], 3)
    summary["cluster_over_single_process_cpu"] = round(
        summary["cluster_redis_process_cpu_us_per_accepted"] / summary["single_redis_process_cpu_us_per_accepted"], 3)
    print(json.dumps({"args": vars(args), "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                      "summary": summary, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
