"""redis-ref: the reference of dist-accepted. redis-benchmark runs the gateway's own intake script
(EVALSHA, printed by build/release/bench/dump_intake_script) on the same Redis, against a sale the
gateway created, just before dist-accepted."""

import hashlib
import shlex
import subprocess
import time

from .. import distributed
from ..distributed import redis_cli
from ..processes import ScenarioError, log, proc_cpu_seconds


def redis_ref(run):
    d = distributed.shared(run)
    port, gateway = d["redis_port"], d["gateway"]
    sale_id = f"redisref-{run.tag}"
    gateway.create_sale(sale_id, 1_000_000_000)  # the sale's keys, made the way the gateway makes them
    tag = hashlib.blake2b(sale_id.encode(), digest_size=16).hexdigest()[:8]  # domain::sale_tag
    prefix = f"fg:{{{tag}}}:"
    if redis_cli(port, "EXISTS", f"{prefix}sale:{sale_id}") != "1":
        raise ScenarioError(f"the sale's key {prefix}sale:{sale_id} is not in Redis")
    source = subprocess.run([str(run.bench_build / "dump_intake_script")], capture_output=True, text=True,
                            check=True).stdout
    sha = redis_cli(port, "-x", "SCRIPT", "LOAD", stdin=source)
    expected = hashlib.sha1(source.encode()).hexdigest()
    if sha != expected:
        raise ScenarioError(f"SCRIPT LOAD gave {sha}, expected {expected}")
    now = str(int(time.time() * 1000))
    # redis-benchmark draws each __rand_int__ on its own: the order's key and id get different numbers,
    # which costs the script nothing (it writes the order under its key, KEYS[6]).
    command = ["EVALSHA", sha, "6", f"{prefix}sale:{sale_id}", f"{prefix}users:{sale_id}", f"{prefix}queue",
               f"{prefix}changes", f"{prefix}held:{sale_id}", f"{prefix}order:{tag}-o__rand_int__", prefix, sale_id,
               "bench-__rand_int__", f"{tag}-o__rand_int__", now]
    seq0 = int(redis_cli(port, "HGET", f"{prefix}sale:{sale_id}", "seq"))

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
    calibration = bench(2000 if run.smoke else 20000)
    n = max(2000, int(calibration["rps"] * run.duration))
    redis_pid = distributed.redis_pid(d["redis_dir"])
    cpu0, t0 = proc_cpu_seconds([redis_pid]), time.monotonic()
    log(f"  redis-ref: redis-benchmark -c 50 -n {n} EVALSHA <intake>")
    r = bench(n)
    r["redis_cpu_cores"] = round((proc_cpu_seconds([redis_pid]) - cpu0) / (time.monotonic() - t0), 2)
    accepted = int(redis_cli(port, "HGET", f"{prefix}sale:{sale_id}", "seq")) - seq0
    r["accepted"] = accepted
    r["script_sha1"] = sha
    r["command"] = "redis-benchmark -c 50 -n N -r 1000000000 " + " ".join(shlex.quote(c) for c in command)
    run.results["redis-ref"] = r


def report_lines(r):
    return [
        "## The Redis reference",
        "",
        f"redis-benchmark, 50 clients, {r['requests']:,} requests: **{r['rps']:,.0f} scripts/s**, "
        f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, max {r['max_ms']:.2f} ms; "
        f"Redis used {r['redis_cpu_cores']:.2f} cores; {r['accepted']:,} orders accepted (the rest: random users "
        "drawn twice). Redis runs as `scripts/testenv/redis` starts it: AOF, `appendfsync always`. The script is "
        f"`scripts::intake()` printed by `build/release/bench/dump_intake_script` (SHA-1 `{r['script_sha1']}`, the one "
        "the gateway's EVALSHA names):",
        "",
        "```",
        r["command"],
        "```",
        "",
    ]
