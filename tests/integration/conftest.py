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
"""

import pytest

import openapi_check
from flashgate_harness import STARTED_SERVERS, ServerPool, wait_until


def pytest_configure(config):
    """Every answer the suite gets is checked against docs/openapi.yaml (see openapi_check.py)."""
    if not config.pluginmanager.has_plugin("flashgate-openapi"):
        config.pluginmanager.register(openapi_check.Plugin(), "flashgate-openapi")


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory):
    pool = ServerPool(tmp_path_factory)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
def server(server_pool):
    shared = server_pool.start()
    shared.shared = True
    return shared


@pytest.fixture
def start_server(tmp_path_factory):
    pool = ServerPool(tmp_path_factory)
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
