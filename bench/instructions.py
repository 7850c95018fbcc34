"""Instructions per request, counted by callgrind (valgrind), for bench/runner.py.

Time on this shared machine moves by ±10 % from run to run; the user-space
instructions a server executes per request do not. Each server runs under
`valgrind --tool=callgrind`, a light wrk load warms it up, its counters are
zeroed, a measured load runs, and the counters are dumped: instructions over
requests answered. Kernel work (the TCP path, half of a poll's CPU) is not
counted, so this compares what the servers' own code does, not throughput.
"""

import collections
import re
import subprocess
import time
from pathlib import Path

# The cost lines of a callgrind profile: "<position> <Ir>"; a "calls=" line
# is followed by the inclusive cost of that call, which is not self cost.
_NAME = re.compile(r"(c?fn)=\((\d+)\)(?: (.*))?")


def self_costs(path):
    """{function: self Ir} of one callgrind output file."""
    names, costs = {}, collections.Counter()
    current, skip_next = None, False
    for line in Path(path).read_text(errors="replace").splitlines():
        m = _NAME.match(line)
        if m:
            if m.group(3):
                names[m.group(2)] = m.group(3)
            if m.group(1) == "fn":
                current = names.get(m.group(2), m.group(2))
            continue
        if line.startswith("calls="):
            skip_next = True
            continue
        if line[:1].isdigit() or line[:1] in "+-*":
            if skip_next:
                skip_next = False
                continue
            parts = line.split()
            if len(parts) >= 2 and current:
                costs[current] += int(parts[1])
    return costs


def short_name(symbol):
    """The function's qualified name without parameters or template arguments."""
    out, depth = [], 0
    for ch in symbol.replace("(anonymous namespace)::", ""):
        if ch in "<(":
            depth += 1
        elif ch in ">)" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    text = "".join(out).replace("[abi:cxx11]", "").strip()
    return text.split(" [clone")[0][:90]


def callgrind_argv(out_dir):
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_dir}/callgrind.out", "--dump-instr=no"]


def measure(pid, out_dir, load):
    """Zeroes the counters of callgrind process `pid`, runs `load()` (returns wrk's result), dumps them.
    Returns (wrk result, Ir, top functions)."""
    subprocess.run(["callgrind_control", "-z", str(pid)], capture_output=True, timeout=60, check=True)
    result = load()
    subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, timeout=120, check=True)
    dumps = []
    for _ in range(100):  # the dump is written by the process itself, shortly after the request
        dumps = sorted(Path(out_dir).glob("callgrind.out.*"), key=lambda p: p.stat().st_mtime)
        if dumps and "summary:" in dumps[-1].read_text(errors="replace")[:4000]:
            break
        time.sleep(0.1)
    if not dumps:
        raise RuntimeError("callgrind wrote no dump")
    text = dumps[-1].read_text(errors="replace")
    total = int(re.search(r"^summary: (\d+)", text, re.M).group(1))
    costs = self_costs(dumps[-1])
    top = [{"function": short_name(f), "ir": ir} for f, ir in costs.most_common(6)]
    return result, total, top
