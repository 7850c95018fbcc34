"""scripts/run-local-cluster and deploy/: the local cluster starts, serves through nginx, and stops.

`scripts/run-local-cluster --check` starts Redis, PostgreSQL, two workers, two
gateways and nginx (deploy/nginx/flashgate.conf) on free ports, creates a sale,
buys, polls, streams, pays and long-polls through nginx, and stops everything.
The systemd unit in deploy/systemd is checked with `systemd-analyze verify`
where that tool exists. Runs in the embedded pass only (it starts its own
deployment; the distributed pass would repeat it).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from flashgate_harness import REPO, flashgate_bin

pytestmark = pytest.mark.embedded_only(reason="starts its own cluster; it runs once, in the embedded pass")

SCRIPT = REPO / "scripts" / "run-local-cluster"
UNIT = REPO / "deploy" / "systemd" / "flashgate.service"
ENV_EXAMPLE = REPO / "deploy" / "systemd" / "flashgate.env.example"
NGINX_CONF = REPO / "deploy" / "nginx" / "flashgate.conf"
CHECK_TIMEOUT = 240  # an upper bound, never a performance claim: setup, initdb, five processes


def run(cmd, timeout, env=None):
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
    )


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (scripts/setup installs nginx-light)")
def test_run_local_cluster_check_serves_through_nginx_and_stops_everything():
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASHGATE_")}
    env["FLASHGATE_BIN"] = str(flashgate_bin())
    before = set((REPO / "data").glob("cluster-check.*"))
    try:
        result = run([SCRIPT, "--check"], CHECK_TIMEOUT, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"run-local-cluster --check still running after {CHECK_TIMEOUT}s\n{e.stdout}\n{e.stderr}")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"exit {result.returncode}\n{output[-6000:]}"
    assert "check passed" in output, output[-3000:]
    for step in ("created through nginx", "polled through nginx: CONFIRMED", "event stream through nginx",
                 "long poll through nginx: PAID"):
        assert step in output, f"missing step {step!r}\n{output[-3000:]}"
    # Its own data dir is gone, and every process it started with it.
    after = set((REPO / "data").glob("cluster-check.*"))
    assert after <= before, f"left behind: {sorted(after - before)}"
    ports = re.findall(r"on 127\.0\.0\.1:(\d+), pid (\d+)", output)
    assert len(ports) == 4, output[-3000:]
    for _port, pid in ports:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower(), (
            f"pid {pid} still running after the check"
        )


def test_nginx_conf_is_valid_and_stream_and_long_poll_friendly(tmp_path):
    text = NGINX_CONF.read_text()
    events = re.search(r"location = /api/orders/events \{(.*?)\}", text, re.S).group(1)
    assert "proxy_buffering off;" in events
    status = re.search(r"location = /api/orders/status \{(.*?)\}", text, re.S).group(1)
    timeout = re.search(r"proxy_read_timeout (\d+)s;", status)
    assert timeout and int(timeout.group(1)) > 30, status
    for directive in ("proxy_http_version 1.1;", 'proxy_set_header Connection "";', "keepalive ",
                      "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"):
        assert directive in text, directive
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    (tmp_path / "temp").mkdir()
    conf = tmp_path / "nginx.conf"
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        f"{user}pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {tmp_path}/temp/c;\n  proxy_temp_path {tmp_path}/temp/p;\n"
        f"  fastcgi_temp_path {tmp_path}/temp/f;\n  uwsgi_temp_path {tmp_path}/temp/u;\n"
        f"  scgi_temp_path {tmp_path}/temp/s;\n  access_log off;\n  include {NGINX_CONF};\n}}\n"
    )
    result = run(["nginx", "-t", "-p", tmp_path, "-c", conf, "-e", tmp_path / "error.log"], 30)
    assert result.returncode == 0, result.stderr


def test_systemd_unit_verifies(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # The unit names /usr/local/bin/flashgate; verify a copy that names the binary we have.
    unit = tmp_path / "flashgate.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/flashgate", str(flashgate_bin())))
    result = run(["systemd-analyze", "verify", "--man=no", unit], 60)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 and re.search(r"(?i)failed to (connect|initialize|set up)|not been booted|System has not", output):
        pytest.skip(f"systemd-analyze cannot run here: {output[:300]}")
    assert result.returncode == 0, output
    # Messages about the unit itself (other units' noise in a container is not ours).
    ours = [line for line in output.splitlines() if "flashgate.service" in line]
    assert not ours, "\n".join(ours)


def test_systemd_environment_example_names_only_real_settings():
    help_text = run([flashgate_bin(), "serve", "--help"], 30).stdout
    known = set(re.findall(r"\[(FLASHGATE_[A-Z_]+)\]", help_text))
    assert known, help_text[:500]
    named = set(re.findall(r"^#?\s*(FLASHGATE_[A-Z_]+)=", ENV_EXAMPLE.read_text(), re.M))
    assert named, "the example sets nothing"
    assert named <= known, f"settings the binary does not know: {sorted(named - known)}"
    assert "EnvironmentFile=" in UNIT.read_text()
