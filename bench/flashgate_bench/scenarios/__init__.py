"""The scenarios: their names, titles and groups, and the function that measures each. Every
function takes the Run and stores its result in run.results[name]; a scenario with a section of its
own in the report has its report_lines(result) beside it."""

from .. import reference
from . import instructions, intake, micro, poll, redis_ref, sse, wakeup, windows_pg, windows_sink

# name: (title in the report, the function that measures it)
SCENARIOS = {
    "nginx": ("nginx, fixed 200 JSON (reference)", reference.nginx_alone),
    "soldout": ("intake, sold out (embedded)", intake.soldout),
    "accepted": ("intake, accepted, durable (embedded)", intake.accepted),
    "poll": ("poll with valid tickets (embedded)", poll.poll),
    "wakeup": ("wake-up latency, long poll and SSE (embedded)", wakeup.wakeup),
    "sse": ("many open event streams (embedded)", sse.sse),
    "windows-sink": ("windows throughput against an order sink answering in 20 ms (embedded)",
                     windows_sink.windows_sink),
    "micro": ("micro-benchmarks", micro.micro),
    "instructions": ("instructions per request under callgrind (nginx, soldout, accepted, poll)",
                     instructions.instructions),
    "redis-ref": ("redis-benchmark, intake script (reference)", redis_ref.redis_ref),
    "dist-accepted": ("intake, accepted (gateway on Redis)", intake.dist_accepted),
    "dist-soldout": ("intake, sold out (gateway on Redis)", intake.dist_soldout),
    "dist-poll": ("poll with valid tickets (gateway on Redis)", poll.dist_poll),
    "windows-pg": ("windows throughput (Redis + PostgreSQL)", windows_pg.windows_pg),
}
TITLES = {name: title for name, (title, _) in SCENARIOS.items()}
MEASURE = {name: measure for name, (_, measure) in SCENARIOS.items()}

# Scenario names, in the order they run. HTTP scenarios get a paired nginx run.
EMBEDDED = ["soldout", "accepted", "poll", "wakeup", "sse", "windows-sink", "micro", "instructions"]
DISTRIBUTED = ["redis-ref", "dist-accepted", "dist-soldout", "dist-poll", "windows-pg"]
ALL = ["nginx"] + EMBEDDED + DISTRIBUTED
GROUPS = {"all": ALL, "embedded": ["nginx"] + EMBEDDED, "distributed": ["nginx"] + DISTRIBUTED}
PAIRED_WITH_NGINX = {"soldout", "accepted", "poll", "dist-accepted", "dist-soldout", "dist-poll"}
# The scenarios on intake.embedded_server; once they are over, it is stopped.
ON_INTAKE_SERVER = ("soldout", "accepted", "poll")

# The sections of the report that are one scenario's alone, in the order they appear.
SECTIONS = [
    ("wakeup", wakeup.report_lines),
    ("sse", sse.report_lines),
    ("windows-pg", windows_pg.report_lines),
    ("windows-sink", windows_sink.report_lines),
    ("redis-ref", redis_ref.report_lines),
    ("micro", micro.report_lines),
    ("instructions", instructions.report_lines),
]
