"""The processes a run starts (all stopped by pid when it ends, however it ends), and what
/proc says about them: CPU time, memory, descriptors."""

import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


class ScenarioError(RuntimeError):
    pass


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


def read_line(proc, prefix, timeout):
    """The next stdout line of `proc` (started with stdout=PIPE) that starts with prefix."""
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
