#!/usr/bin/env bash
# The benchmark suite: builds release and the bench tools, starts what each
# scenario needs on 127.0.0.1 (nginx, flashgate, redis-server, PostgreSQL),
# runs the scenarios and writes docs/benchmarks.md.
#
#   scripts/bench.sh                      the full run (about 5 minutes)
#   scripts/bench.sh --smoke              a second or so per scenario (the test suite runs this)
#   scripts/bench.sh --only NAME[,NAME]   scenarios or groups: all, embedded, distributed,
#                                         nginx, soldout, accepted, poll, wakeup, sse, micro,
#                                         windows-sink (64 windows against a 20 ms order sink),
#                                         instructions (callgrind: instructions per request),
#                                         redis-ref, dist-accepted, dist-soldout, dist-poll, windows-pg
#   scripts/bench.sh --out FILE           where the report goes (default docs/benchmarks.md)
#   scripts/bench.sh --no-build           use the binaries as they are
#   scripts/bench.sh --profile            also profile the server (perf) under each HTTP load
# Other options go to bench/runner.py (--duration S, --connections N, --streams N,
# --json FILE, --keep-temp, --verbose). FLASHGATE_BIN picks another server binary.
# Exits non-zero if a scenario failed (the report says which and why); a
# missed performance target is reported, not a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
args=()
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$arg") ;;
  esac
done

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
if ((build)); then
  bash scripts/setup
  # The release preset builds the bench tools too (FLASHGATE_BENCH), with the
  # server's own objects: one build for the suite, the server and the bench.
  cmake --preset release >/dev/null
  cmake --build --preset release
fi

bin="${FLASHGATE_BIN:-$PWD/build/release/flashgate}"
python=/usr/bin/python3
[[ -x $python ]] || python=python3
exec "$python" bench/runner.py --bin "$bin" --bench-build "$PWD/build/release/bench" \
  --command "scripts/bench.sh${*:+ $*}" "${args[@]}"
