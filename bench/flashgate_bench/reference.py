"""nginx, the reference of every HTTP scenario: the HTTP ceiling of this machine.

Every HTTP scenario is paired with a run of nginx just before it (same wrk script, arguments and
settings), so that each ratio compares two numbers taken a few seconds apart on the same, possibly
busy, machine; and with a run of each at the same offered load, for latency. (The distributed
accepted intake has a second reference, redis-benchmark: scenarios/redis_ref.py.)"""

from .processes import children_of, log, free_port, wait_for
from .servers import request


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
            f"""# bench/flashgate_bench/reference.py: the HTTP ceiling of this machine
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


def nginx_alone(run):
    """The `nginx` scenario, when no HTTP scenario runs that it would be paired with."""
    nginx_pair(run, "(alone)")


def nginx_pair(run, name, script="fixed.lua", script_args_for=lambda phase: ()):
    """nginx just before a scenario, driven by the scenario's own wrk script and arguments: the load
    generator shares the cores and does the same work per request on both sides (a Lua request()
    costs wrk more than its static request), so only the server differs. That run is the reference
    of the ratios; fixed.lua's static request, wrk's cheapest, is measured too and shown alongside."""
    if run.nginx_server is None:
        run.nginx_server = Nginx(run)
    n = run.nginx_server
    url = f"http://127.0.0.1:{n.port}"
    log(f"  nginx reference for {name}" + ("" if script == "fixed.lua" else f" ({script}, then fixed.lua)"))
    r = run.measured_wrk(n.pids(), url, script, script_args_for, f"nginx/{name}")
    if script != "fixed.lua":
        r["static"] = run.measured_wrk(n.pids(), url, "fixed.lua", lambda phase: (), f"nginx/{name} static")
    run.results.setdefault("nginx", []).append(dict(r, paired_with=name))
    return r


def paced_pair(run, name, url, script, script_args, saturated_rps):
    """Latency at the same offered load: nginx and the scenario, each at half the request rate the
    scenario reached when saturated (each connection pausing between requests), so that neither
    server is saturated and their p99s compare queueing inside the server, not a backlog."""
    rate = max(100, int(saturated_rps * 0.5))
    delay_ms = max(1, round(run.connections * 1000 / rate))
    env = {"FLASHGATE_BENCH_DELAY_MS": str(delay_ms)}
    n = run.nginx_server
    log(f"  {name}: nginx and {name} at the same offered load (about {rate:,} req/s, {delay_ms} ms between requests)")
    ref = run.wrk(f"http://127.0.0.1:{n.port}", script, script_args, env=env, label=f"nginx/{name} paced")
    own = run.wrk(url, script, script_args, env=env, label=f"{name} paced")
    return {"offered_rps": rate, "delay_ms": delay_ms,
            "rps": own["rps"], "p50_us": own["p50_us"], "p99_us": own["p99_us"], "max_us": own["max_us"],
            "nginx_rps": ref["rps"], "nginx_p50_us": ref["p50_us"], "nginx_p99_us": ref["p99_us"],
            "nginx_max_us": ref["max_us"]}
