"""A distributed deployment the test modules start themselves: one Redis, one PostgreSQL
and flashgate processes of any role on them, sharing ticket keys, admin token and secret.

Each module says which processes it starts (its `start`) and what it looks at inside;
this module starts, kills and stops them.
"""

import hashlib
import shutil
import signal
import time

from flashgate_harness import (
    PostgresCluster,
    RedisServer,
    Server,
    child_env,
    free_port,
    new_ticket_key,
    postgres_home,
)


def sale_tag(sale_id):
    """The hash tag of a sale's Redis keys (domain::sale_tag: BLAKE2b-128, first 4 bytes in hex)."""
    return hashlib.blake2b(sale_id.encode(), digest_size=16).hexdigest()[:8]


class Deployment:
    """Redis, PostgreSQL and the processes launched on them; `env` is what every process is given."""

    def __init__(self, tmp_path_factory, redis_dir, env, redis=None):
        """`redis`: a RedisCluster (flashgate_harness) instead of a RedisServer in `redis_dir`."""
        self._tmp = tmp_path_factory
        self.pg_home = postgres_home()
        self.postgres = PostgresCluster(self.pg_home / "pg")
        self.redis = redis or RedisServer(tmp_path_factory.mktemp(redis_dir))
        self.env = {"FLASHGATE_TICKET_KEYS": new_ticket_key(), **env}
        self.workers = []
        self.gateways = []
        self.started = []  # every process, for the final stop

    def start_processes(self, workers, gateways):
        """Redis, PostgreSQL, then the workers, then the gateways: self."""
        self.redis.start()
        self.postgres.start()
        self.workers += [self.launch("worker") for _ in range(workers)]
        self.gateways += [self.launch("gateway") for _ in range(gateways)]
        return self

    def launch(self, role, overrides=None):
        """A process of `role`, ready; a port taken meanwhile by another is tried again on another."""
        data_dir = self._tmp.mktemp(role)
        args = ["--store", self.redis.url, "--database", self.postgres.url, "--role", role]
        for _attempt in range(3):
            server = Server(data_dir, child_env({**self.env, **(overrides or {})}), free_port(), args=args)
            self.started.append(server)
            server.start()
            if server.wait_ready():
                return server
            server.stop()
            if "in use" not in server.logs().lower():
                break
        raise RuntimeError(f"{role} exited before it was ready\n{server.describe_logs()}")

    def kill(self, server):
        """SIGKILL: the process dies holding whatever it holds."""
        server.close_sessions()
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(timeout=10)
        server.killed = True
        server.stopped_at = time.time()

    def stop(self):
        """Every process still running stopped (SIGTERM), then Redis and PostgreSQL: {port: exit code}."""
        codes = {}
        for server in reversed(self.started):
            if server.is_running():
                codes[server.port] = server.stop()
        try:
            self.redis.stop()
        finally:
            try:
                self.postgres.stop()
            finally:
                shutil.rmtree(self.pg_home, ignore_errors=True)
        return codes


def run(deployment):
    """A fixture's body: `codes = yield from run(deployment)` starts it, hands it to the
    tests, stops it however they ended, and gives the processes' exit codes."""
    try:
        deployment.start()
        yield deployment
    finally:
        codes = deployment.stop()
    return codes
