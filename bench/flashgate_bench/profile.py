"""`--profile`: perf (cpu-clock, DWARF call graphs) on the server process(es) during an extra wrk
run of a scenario's load; the measured run is not disturbed. report.py writes what it finds."""

import re
import shutil
import subprocess
import threading
import time

from .processes import log


def profile(run, label, pids, url, script, script_args):
    """perf (cpu-clock, DWARF call graphs) on the server process(es) during an extra
    wrk run of the same load; the measured run is not disturbed."""
    if not shutil.which("perf"):
        run.notes.append("--profile: perf is not installed")
        return None
    seconds = 2 if run.smoke else 5
    data = run.tmp / f"perf-{label.replace('/', '-')}.data"
    load = threading.Thread(
        target=lambda: run.wrk(url, script, script_args, duration=seconds + 2, label=label + " profile"))
    log(f"  {label}: perf record for {seconds} s under the same load")
    load.start()
    time.sleep(1.0)
    subprocess.run(["perf", "record", "-e", "cpu-clock", "-F", "499", "--call-graph", "dwarf,16384", "-o",
                    str(data), "-p", ",".join(str(p) for p in pids), "--", "sleep", str(seconds)],
                   capture_output=True, timeout=seconds + 120)
    load.join()

    def report(*options):
        out = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "-g", "none", *options],
                             capture_output=True, text=True, timeout=600)
        return [line for line in out.stdout.splitlines() if line.strip() and not line.startswith("#")]

    flat = []
    for line in report("--no-children", "--sort", "comm,dso,symbol", "--percent-limit", "1"):
        m = re.match(r"^\s+([\d.]+)%\s+(\S+)\s+(.+?)\s+\[(.)\]\s+(.*)$", line)
        if m:
            flat.append({"self": float(m.group(1)), "comm": m.group(2), "dso": m.group(3),
                         "symbol": short(m.group(5).strip())})
    dsos = []
    for line in report("--no-children", "--sort", "comm,dso", "--percent-limit", "1"):
        m = re.match(r"^\s+([\d.]+)%\s+(\S+)\s+(.+?)\s*$", line)
        if m:
            dsos.append({"self": float(m.group(1)), "comm": m.group(2), "dso": m.group(3)})
    inclusive, seen = [], set()
    wanted = re.compile(r"flashgate::|sqlite3_step|sqlite3WalFrames|crypto_aead|sodium_bin2base64|boost::json::parser|"
                        r"boost::json::serialize|__libc_sendmsg|__libc_recvmsg|epoll_ctl|malloc|^free|cfree|redisAsync")
    for line in report("--children", "--sort", "symbol", "--percent-limit", "1.5"):
        m = re.match(r"^\s+([\d.]+)%\s+([\d.]+)%\s+\[(.)\]\s+(.*)$", line)
        if not m or not wanted.search(m.group(4)) or "HttpServer::start" in m.group(4):
            continue
        name = short(m.group(4).strip())
        if name in seen:
            continue
        seen.add(name)
        inclusive.append({"total": float(m.group(1)), "self": float(m.group(2)), "symbol": name})
    return {"seconds": seconds, "flat": flat[:15], "dsos": dsos[:8], "inclusive": inclusive[:25]}


def short(symbol):
    """The symbol with its template arguments and parameter lists out, so that a line says what it is."""
    out, depth = [], 0
    for ch in symbol:
        if ch == "<":
            if depth == 0:
                out.append("<…>")
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    text = "".join(out).replace("(anonymous namespace)::", "").strip()
    text = re.sub(r"(\s+-)+$", "", text).strip()
    text = re.sub(r"\((?:[^()]|\([^()]*\))*\)", "()", text)  # parameter lists
    return text[:140]


def report_lines(results):
    """The report's section of the profiles, of every scenario that has one."""
    names = [n for n in ("soldout", "accepted", "poll", "dist-accepted", "dist-soldout", "dist-poll")
             if results.get(n, {}).get("profile")]
    if not names:
        return []
    lines = [
        "## Profiles (`--profile`)",
        "",
        "`perf record -e cpu-clock --call-graph dwarf` on the server process(es) during an extra run of the same "
        "load (the measured run is not profiled). Shares are of all samples of the profiled processes. On this "
        "virtual machine the kernel's sampling point shows up as `pvm_irq_enable`: it stands for kernel time in "
        "general (mostly the TCP loopback path), not for one function.",
        "",
    ]
    for name in names:
        p = results[name]["profile"]
        lines += [f"### `{name}`", "", "By object: " + ", ".join(
            f"{d['dso']} ({d['comm']}) {d['self']:.1f}%" for d in p["dsos"]) + ".", ""]
        lines += ["| self % | where | symbol |", "|---:|---|---|"]
        for f in p["flat"][:12]:
            lines.append(f"| {f['self']:.1f} | {f['dso']} | `{f['symbol']}` |")
        lines += ["", "Inclusive (the function and what it calls), selected:", "",
                  "| total % | self % | function |", "|---:|---:|---|"]
        for f in p["inclusive"][:18]:
            lines.append(f"| {f['total']:.1f} | {f['self']:.1f} | `{f['symbol']}` |")
        lines.append("")
    return lines
