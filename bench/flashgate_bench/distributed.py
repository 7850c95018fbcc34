"""Redis and PostgreSQL of the distributed scenarios, started as scripts/testenv starts them, and
the one `--role gateway` process on them that redis-ref and the dist-* scenarios share."""

import functools
import subprocess
from pathlib import Path

from . import REPO
from .processes import ScenarioError, free_port, log, wait_for
from .servers import Flashgate


def shared(run):
    """Redis, PostgreSQL and the gateway of the distributed scenarios, started once per run."""
    if run.distributed is None:
        redis_dir = run.tmp / "redis"
        redis_port = free_port()
        redis_start(run, redis_dir, redis_port)
        gateway = Flashgate(
            run, "gateway", {"FLASHGATE_STORE": f"redis://127.0.0.1:{redis_port}"},
            ["--role", "gateway", "--database", postgres_url(run)],
        )
        run.distributed = {"redis_port": redis_port, "redis_dir": redis_dir, "gateway": gateway}
    return run.distributed


def gateway_pids(run):
    """The processes whose CPU a distributed HTTP scenario counts: the gateway and its Redis."""
    d = shared(run)
    return [d["gateway"].proc.pid, redis_pid(d["redis_dir"])]


def redis_start(run, directory, port):
    script = REPO / "scripts" / "testenv" / "redis"
    subprocess.run([str(script), "start", str(directory), str(port)], check=True, timeout=60,
                   stdout=subprocess.DEVNULL)
    run.procs.stoppers.append(
        lambda: subprocess.run([str(script), "stop", str(directory)], timeout=60, stdout=subprocess.DEVNULL))


def redis_pid(directory):
    return int((Path(directory) / "redis.pid").read_text().strip())


def postgres_url(run):
    if run.postgres is None:
        script = REPO / "scripts" / "testenv" / "postgres"
        directory = run.tmp / "postgres"
        out = subprocess.run([str(script), "start", str(directory), str(free_port())], capture_output=True,
                             text=True, timeout=180)
        if out.returncode != 0:
            raise ScenarioError(f"PostgreSQL did not start: {out.stderr[-800:]}")
        run.procs.stoppers.append(
            lambda: subprocess.run([str(script), "stop", str(directory)], timeout=120, capture_output=True))
        run.postgres = out.stdout.strip().splitlines()[-1]
    return run.postgres


def redis_cli(port, *args, stdin=None):
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *[str(a) for a in args]],
                         capture_output=True, text=True, input=stdin, timeout=60)
    if out.returncode != 0:
        raise ScenarioError(f"redis-cli {args[0]}: {out.stderr}")
    return out.stdout.strip()


def redis_aof(port):
    info = dict(line.split(":", 1) for line in redis_cli(port, "INFO", "persistence").splitlines()
                if ":" in line)
    return info


def settle_for(run, name):
    """What Run.measured_wrk calls between the warm-up and the measured run of scenario `name`."""
    return functools.partial(redis_settle, run) if name.startswith("dist-") else None


def redis_settle(run):
    """Redis rewrites its AOF in a forked child once the file has doubled (auto-aof-rewrite-percentage
    100): seconds of a core that would fall into whichever run is measuring then. One rewrite now,
    finished before the measured run, so that the run writes into a fresh file."""
    port = run.distributed["redis_port"]
    out = subprocess.run(["redis-cli", "-p", str(port), "BGREWRITEAOF"], capture_output=True, text=True, timeout=60)
    log(f"  redis: {out.stdout.strip() or out.stderr.strip()}; waiting for it to finish")
    def rewrite_done():
        info = redis_aof(port)
        return info.get("aof_rewrite_in_progress") == "0" and info.get("aof_rewrite_scheduled") == "0"

    wait_for(rewrite_done, 300, "Redis's AOF rewrite", interval=0.2)
    run.aof_rewrites_before = int(redis_aof(port).get("aof_rewrites", "0"))


def note_rewrites(run, name, r):
    if not name.startswith("dist-") or not run.distributed:
        return
    during = int(redis_aof(run.distributed["redis_port"]).get("aof_rewrites", "0")) - run.aof_rewrites_before
    r["redis_aof_rewrites"] = during
    if during:
        run.notes.append(f"{name}: Redis rewrote its AOF {during} time(s) during the measured run "
                         "(its file doubled); the forked child's CPU shares the cores.")
