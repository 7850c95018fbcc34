"""Fixtures that start the real flashgate binary (the harness is in flashgate_harness.py).

- server: one default server shared by the whole session (service time 0 ms);
  tests isolate themselves by creating sales with unique ids.
- start_server(env={...}, data_dir=None): servers with their own settings,
  stopped (SIGTERM, then SIGKILL after 10 s) when the test ends.
- server_pool: the session-wide starter, for module fixtures that share a
  specially configured server between a few tests.

Every HTTP answer a test receives through requests or SSEStream is checked
against docs/openapi.yaml at the end of that test (openapi_check.py): a
mismatch is reported as an error in the test's teardown.

FLASHGATE_TEST_DEPLOYMENT=distributed runs the same tests against servers on
Redis + PostgreSQL (see flashgate_harness.py): the session's PostgreSQL
cluster is started here once (scripts/testenv/postgres) and stopped at the
end; tests marked `embedded_only` are skipped, with their reason.
"""

import shutil

import pytest

import openapi_check
from flashgate_harness import DEPLOYMENT, STARTED_SERVERS, PostgresCluster, ServerPool, distributed, postgres_home, wait_until

EMBEDDED_ONLY_REASON = "needs the embedded deployment (SQLite in the data dir, one process owning its state)"


def pytest_configure(config):
    """Every answer the suite gets is checked against docs/openapi.yaml (see openapi_check.py)."""
    if not config.pluginmanager.has_plugin("flashgate-openapi"):
        config.pluginmanager.register(openapi_check.Plugin(), "flashgate-openapi")
    config.addinivalue_line(
        "markers",
        "embedded_only(reason=...): runs only when FLASHGATE_TEST_DEPLOYMENT is embedded (the default); "
        "skipped with the reason in the distributed pass",
    )
    config.addinivalue_line("markers", "slow: takes many seconds (the distributed pass of scripts/test may leave it out)")


def pytest_report_header(config):
    return f"flashgate deployment under test: {DEPLOYMENT}"


def pytest_collection_modifyitems(config, items):
    if not distributed():
        return
    for item in items:
        marker = item.get_closest_marker("embedded_only")
        if marker is not None:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else EMBEDDED_ONLY_REASON)
            item.add_marker(pytest.mark.skip(reason=f"embedded only: {reason}"))


@pytest.fixture(scope="session")
def session_database():
    """Distributed: the URL of the session's PostgreSQL (one cluster, database flashgate); embedded: None."""
    if not distributed():
        yield None
        return
    home = postgres_home()
    cluster = PostgresCluster(home / "pg")
    try:
        cluster.start()
        yield cluster.url
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory, session_database):
    pool = ServerPool(tmp_path_factory, database_url=session_database)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
def server(server_pool):
    shared = server_pool.start()
    shared.shared = True
    return shared


@pytest.fixture
def start_server(tmp_path_factory, session_database):
    pool = ServerPool(tmp_path_factory, database_url=session_database)
    yield pool.start
    pool.stop_all()


@pytest.fixture(name="wait_until")
def wait_until_fixture():
    return wait_until


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the log tails of the servers that were running in that phase."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for srv in STARTED_SERVERS:
        if srv.shared and "server" not in item.fixturenames:
            continue
        if srv.started_at > call.stop or (srv.stopped_at is not None and srv.stopped_at < call.start):
            continue
        report.sections.append((f"flashgate :{srv.port} stdout", srv.log_tail(srv.stdout_path)))
        report.sections.append((f"flashgate :{srv.port} stderr", srv.log_tail(srv.stderr_path)))
        if srv.backend is not None and srv.backend.redis is not None:  # a cluster goes back at the test's end
            report.sections.append((f"redis :{srv.backend.redis.port} of flashgate :{srv.port}", srv.backend.redis.log_tail()))
