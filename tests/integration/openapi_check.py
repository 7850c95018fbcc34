"""Keeps docs/openapi.yaml honest: every HTTP answer the black-box suite gets is checked against it.

Three parts:

- Spec: loads docs/openapi.yaml, finds the operation of a request the way the
  server's router does (path templates segment by segment, HEAD as GET; a path
  that matches nothing and a method a path does not list are checked against
  the spec's `x-unrouted-responses`) and checks one response: the status code
  is declared for that path and method, the Content-Type is one the response
  declares, a JSON body validates against its schema (JSON Schema 2020-12,
  formats checked), headers declared `required: true` are present and valid
  (X-Request-Id everywhere, Retry-After on 429/503, Allow on 405 naming
  exactly the path's methods). Server-sent events are checked against the
  `x-events` of the event stream's media type. Spec.lint() checks the
  document itself (OpenAPI 3.1 shape, every $ref resolves, path parameters
  declared, schemas valid).
- Recorder (RECORDER): flashgate_harness installs it. It wraps
  requests.Session.send, so every response a test gets through requests (the
  Server helpers, server.http, and plain requests.get/post alike) is recorded,
  and SSEStream reports its responses and events. Only flashgate's answers are
  kept: a `Server: flashgate` header, or no Server header from a port a
  harness Server listens on. Raw-socket and raw http.client exchanges are not
  seen (they are exempt).
- Plugin: registered by conftest.py. It tags each record with the test that
  was running, and at the end of each test checks that test's records: any
  mismatch turns the test's teardown into an error listing them. Records made
  outside any test are checked when the session finishes (a mismatch there
  fails the run), and the terminal summary says how much was checked.
"""

import json
import re
import threading
import weakref
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO / "docs" / "openapi.yaml"

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
MAX_BODY = 1 << 20  # JSON bodies kept for checking, at most this many bytes each


def media_type(value):
    return (value or "").split(";")[0].strip().lower()


def is_json_type(ctype):
    return ctype == "application/json" or ctype.endswith("+json")


def short(text, limit=160):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- records


class Record:
    """One response (kind "response") or one server-sent event (kind "event") the suite received."""

    __slots__ = ("kind", "method", "target", "status", "headers", "body", "source", "test", "event", "event_id", "_lazy")

    def __init__(self, kind, method, target, status=None, headers=None, body=None, source="", test=None):
        self.kind = kind
        self.method = method.upper()
        self.target = target  # raw request target: path and query, percent-encoded
        self.status = status
        self.headers = headers or {}  # lower-case names
        self.body = body  # bytes; None when not read (streamed, HEAD, or not JSON)
        self.source = source
        self.test = test
        self.event = None
        self.event_id = None
        self._lazy = None  # a streamed requests.Response whose body may be read later

    @property
    def path(self):
        return self.target.split("?", 1)[0]

    def content_type(self):
        return media_type(self.headers.get("content-type"))

    def resolve_body(self):
        if self._lazy is not None:
            response = self._lazy()
            self._lazy = None
            if response is not None and getattr(response, "_content_consumed", False):
                content = getattr(response, "_content", None)
                if isinstance(content, bytes) and len(content) <= MAX_BODY:
                    self.body = content
        return self.body

    def describe(self):
        where = f"{self.method} {short(self.target, 120)}"
        if self.kind == "event":
            return f"{where} event {self.event!r} id {self.event_id!r}"
        return f"{where} -> {self.status} {self.headers.get('content-type', '(no Content-Type)')}"


class Recorder:
    """Collects what the suite receives from flashgate; thread-safe."""

    def __init__(self):
        self.ports = set()  # ports of flashgate servers started by the harness
        self.current_test = None
        self._records = []
        self._lock = threading.Lock()
        self._installed = False
        self.checked = 0
        self.seen = set()  # (METHOD, template, status) checked, for the coverage line

    # -- what the harness calls

    def add_port(self, port):
        self.ports.add(int(port))

    def is_flashgate(self, port, server_header):
        if server_header is not None:
            return server_header.strip().lower() == "flashgate"
        return port in self.ports

    def add(self, record):
        record.test = self.current_test
        with self._lock:
            self._records.append(record)

    def install_requests_hook(self):
        """Wrap requests.Session.send: every response requests returns passes through record_requests()."""
        import requests

        if self._installed or getattr(requests.Session.send, "_flashgate_recorder", False):
            self._installed = True
            return
        original = requests.Session.send
        recorder = self

        def send(session, request, **kwargs):
            response = original(session, request, **kwargs)
            try:
                recorder.record_requests(response, streamed=bool(kwargs.get("stream")))
            except Exception as exc:  # recording must never break a test's request
                recorder.add(Record("response", request.method or "?", "?", status=-1, source=f"recorder error: {exc!r}"))
            return response

        send._flashgate_recorder = True
        send.__wrapped__ = original
        requests.Session.send = send
        self._installed = True

    def record_requests(self, response, streamed=False):
        url = urlsplit(response.url or response.request.url)
        if url.hostname not in ("127.0.0.1", "localhost", "::1"):
            return
        if not self.is_flashgate(url.port, response.headers.get("Server")):
            return
        headers = {k.lower(): v for k, v in response.headers.items()}
        record = Record("response", response.request.method, response.request.path_url, response.status_code,
                        headers, source="requests")
        ctype = media_type(headers.get("content-type"))
        if is_json_type(ctype) and record.method != "HEAD":
            if streamed:
                record._lazy = weakref.ref(response)
            else:
                content = response.content
                record.body = content if len(content) <= MAX_BODY else None
        self.add(record)

    def record_sse_response(self, port, target, status, headers, body):
        """An SSEStream's response: its status and headers; the body if it was not a stream."""
        headers = {k.lower(): v for k, v in headers.items()}
        if not self.is_flashgate(port, headers.get("server")):
            return
        ctype = media_type(headers.get("content-type"))
        keep = body if (body is not None and is_json_type(ctype)) else None
        self.add(Record("response", "GET", target, status, headers, keep, source="SSEStream"))

    def record_sse_event(self, port, target, event, event_id, data):
        if port not in self.ports:
            return
        record = Record("event", "GET", target, source="SSEStream")
        record.event = event
        record.event_id = event_id
        record.body = data.encode() if isinstance(data, str) else data
        self.add(record)

    # -- what the plugin calls

    def take(self, test=None, everything=False):
        with self._lock:
            if everything:
                taken, self._records = self._records, []
            else:
                taken = [r for r in self._records if r.test == test]
                self._records = [r for r in self._records if r.test != test]
        return taken

    def peek(self, test):
        with self._lock:
            return [r for r in self._records if r.test == test]


RECORDER = Recorder()

_SPEC = None
_SPEC_LOCK = threading.Lock()


def spec():
    """The Spec of docs/openapi.yaml, loaded once."""
    global _SPEC
    with _SPEC_LOCK:
        if _SPEC is None:
            _SPEC = Spec(SPEC_PATH)
        return _SPEC


# --------------------------------------------------------------------------- the spec


class Route:
    def __init__(self, kind, template, responses, allowed=(), operation=None, path_item=None):
        self.kind = kind  # "operation", "other-method" or "unknown-path"
        self.template = template
        self.responses = responses
        self.allowed = allowed  # the methods the path has (for 405 Allow)
        self.operation = operation
        self.path_item = path_item

    def label(self, method):
        if self.kind == "operation":
            return f"{method} {self.template}"
        if self.kind == "other-method":
            return f"{method} {self.template} (a method the path does not list)"
        return f"{method} (no path of the spec)"


class Spec:
    def __init__(self, path=SPEC_PATH):
        import yaml
        from jsonschema import Draft202012Validator, FormatChecker, RefResolver

        self.path = Path(path)
        self.text = self.path.read_text()
        self.doc = yaml.safe_load(self.text)
        self._validator_class = Draft202012Validator
        self._resolver_class = RefResolver
        self.format_checker = FormatChecker()
        self.format_checker.checks("date-time")(lambda value: not isinstance(value, str) or bool(RFC3339.match(value)))
        self._validators = {}
        self._lock = threading.Lock()
        self.routes = []
        for template, item in (self.doc.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            segments = template[1:].split("/") if template.startswith("/") else None
            self.routes.append((template, segments, item))

    # -- references

    def pointer(self, ref):
        """The node a local reference ("#/a/b") names; KeyError if it names nothing."""
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise KeyError(f"not a local reference: {ref!r}")
        node = self.doc
        if ref in ("#", "#/"):
            return node
        for part in ref[2:].split("/"):
            part = unquote(part).replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise KeyError(f"unresolved reference {ref}")
        return node

    def deref(self, node, depth=0):
        while isinstance(node, dict) and "$ref" in node and depth < 20:
            node = self.pointer(node["$ref"])
            depth += 1
        return node

    def validator(self, schema):
        key = id(schema)
        with self._lock:
            found = self._validators.get(key)
            if found is None:
                resolver = self._resolver_class(base_uri="", referrer=self.doc)
                found = (schema, self._validator_class(schema, resolver=resolver, format_checker=self.format_checker))
                self._validators[key] = found
        return found[1]

    def schema_errors(self, schema, value):
        """Readable messages of every way value fails schema ('$.a.b: message')."""
        errors = []
        for error in sorted(self.validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path)):
            where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            errors.append(f"{where}: {short(error.message, 300)}")
        return errors

    # -- routing (as the server's router: per-segment decoding, {param} is one non-empty segment)

    def route(self, method, raw_path):
        method = method.upper()
        unrouted = self.doc.get("x-unrouted-responses") or {}
        if not raw_path.startswith("/") or BAD_PERCENT.search(raw_path):
            return Route("unknown-path", None, unrouted.get("unknown-path") or {})
        segments = [unquote(s) for s in raw_path[1:].split("/")]
        for template, pattern, item in self.routes:
            if pattern is None or len(pattern) != len(segments):
                continue
            if not all(
                (p.startswith("{") and p.endswith("}") and len(p) > 2 and s) or p == s for p, s in zip(pattern, segments)
            ):
                continue
            allowed = tuple(sorted(m.upper() for m in METHODS if m in item))
            wanted = "get" if method == "HEAD" and "head" not in item else method.lower()
            operation = item.get(wanted) if wanted in METHODS else None
            if isinstance(operation, dict):
                return Route("operation", template, operation.get("responses") or {}, allowed, operation, item)
            return Route("other-method", template, unrouted.get("other-method") or {}, allowed, None, item)
        return Route("unknown-path", None, unrouted.get("unknown-path") or {})

    # -- checks

    def check(self, record):
        """Every way the record disagrees with the spec, as readable lines; [] when it agrees."""
        try:
            if record.kind == "event":
                return self.check_event(record)
            return self.check_response(record)
        except Exception as exc:  # a broken spec or record is a mismatch, not a crash of the run
            return [f"could not be checked: {exc!r}"]

    def declared(self, responses, status):
        for key in (str(status), f"{status // 100}XX", f"{status // 100}xx", "default"):
            if key in responses:
                return key, self.deref(responses[key])
        return None, None

    def check_response(self, record):
        if record.status == -1:
            return [record.source]
        route = self.route(record.method, record.path)
        label = route.label(record.method)
        key, response = self.declared(route.responses, record.status)
        RECORDER.seen.add((record.method if record.method != "HEAD" else "GET", route.template, key))
        if response is None:
            declared = ", ".join(sorted(str(k) for k in route.responses)) or "none"
            return [f"{label}: status {record.status} is not declared (declared: {declared})"]
        problems = []
        content = response.get("content") or {}
        ctype = record.content_type()
        media = {media_type(k): v for k, v in content.items()}
        if content and ctype not in media:
            problems.append(f"{label} {key}: Content-Type {ctype or '(none)'!r} is not declared ({', '.join(media)})")
        body = record.resolve_body()
        if ctype in media and is_json_type(ctype) and body is not None and record.method != "HEAD":
            schema = (media[ctype] or {}).get("schema")
            try:
                value = json.loads(body)
            except ValueError:
                problems.append(f"{label} {key}: body is not JSON: {short(body)!r}")
            else:
                if schema is not None:
                    for error in self.schema_errors(schema, value):
                        problems.append(f"{label} {key}: {error}; body {short(json.dumps(value), 300)}")
        for name, header in (response.get("headers") or {}).items():
            header = self.deref(header)
            value = record.headers.get(name.lower())
            if value is None:
                if header.get("required"):
                    problems.append(f"{label} {key}: required header {name} is missing")
                continue
            schema = header.get("schema")
            if schema is not None:
                typed = value
                if self.deref(schema).get("type") == "integer":
                    typed = int(value) if re.fullmatch(r"-?\d+", value.strip()) else value
                for error in self.schema_errors(schema, typed):
                    problems.append(f"{label} {key}: header {name}: {error}")
        if record.status == 405 and route.kind == "other-method":
            allow = {m.strip().upper() for m in record.headers.get("allow", "").split(",") if m.strip()}
            if allow != set(route.allowed):
                problems.append(f"{label} 405: Allow {record.headers.get('allow')!r} but the spec lists {', '.join(route.allowed)}")
        return problems

    def check_event(self, record):
        route = self.route("GET", record.path)
        label = route.label("GET")
        if route.kind != "operation":
            return [f"{label}: an event stream the spec does not describe"]
        _, response = self.declared(route.responses, 200)
        stream = {media_type(k): v for k, v in ((response or {}).get("content") or {}).items()}.get("text/event-stream")
        if stream is None:
            return [f"{label}: events, but 200 declares no text/event-stream"]
        events = stream.get("x-events") or {}
        name = record.event or "message"
        declared = events.get(name)
        if declared is None:
            return [f"{label}: event {name!r} is not declared (declared: {', '.join(events) or 'none'})"]
        problems = []
        try:
            value = json.loads(record.body)
        except (TypeError, ValueError):
            return [f"{label} event {name}: data is not JSON: {short(record.body)!r}"]
        if "data" in declared:
            for error in self.schema_errors(declared["data"], value):
                problems.append(f"{label} event {name}: {error}; data {short(json.dumps(value), 300)}")
        id_rule = declared.get("id", "any")
        if id_rule == "none" and record.event_id is not None:
            problems.append(f"{label} event {name}: has id {record.event_id!r}; the spec says no id")
        elif id_rule not in ("none", "any"):
            expected = value.get(id_rule) if isinstance(value, dict) else None
            if record.event_id is None or record.event_id != str(expected):
                problems.append(f"{label} event {name}: id {record.event_id!r}, the spec says the data's {id_rule} ({expected!r})")
        return problems

    # -- the document itself

    def lint(self):
        """Problems of the document as OpenAPI 3.1 (the parts this project relies on)."""
        problems = []
        doc = self.doc
        if not isinstance(doc, dict):
            return ["the document is not a mapping"]
        if not re.fullmatch(r"3\.1\.\d+", str(doc.get("openapi", ""))):
            problems.append(f"openapi is {doc.get('openapi')!r}, not 3.1.x")
        info = doc.get("info") or {}
        for field in ("title", "version"):
            if not isinstance(info.get(field), str) or not info.get(field):
                problems.append(f"info.{field} is missing")
        paths = doc.get("paths")
        if not isinstance(paths, dict) or not paths:
            problems.append("paths is empty")
            paths = {}

        def walk(node, where):
            if isinstance(node, dict):
                if "$ref" in node:
                    try:
                        self.pointer(node["$ref"])
                    except KeyError as exc:
                        problems.append(f"{where}: {exc.args[0]}")
                for k, v in node.items():
                    walk(v, f"{where}/{k}")
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, f"{where}/{i}")

        walk(doc, "#")
        if any("unresolved reference" in p for p in problems):
            return problems  # the rest would only repeat them

        operation_ids = {}
        schemes = (doc.get("components") or {}).get("securitySchemes") or {}
        for template, item in paths.items():
            if not template.startswith("/"):
                problems.append(f"path {template!r} does not start with /")
            if not isinstance(item, dict):
                problems.append(f"{template}: not a path item")
                continue
            operations = {m: item[m] for m in METHODS if m in item}
            if not operations:
                problems.append(f"{template}: no operation")
            wanted = set(re.findall(r"\{([^}]+)\}", template))
            path_level = [self.deref(p) for p in item.get("parameters") or []]
            for method, operation in operations.items():
                where = f"{method.upper()} {template}"
                responses = operation.get("responses")
                if not isinstance(responses, dict) or not responses:
                    problems.append(f"{where}: no responses")
                    responses = {}
                for code, response in responses.items():
                    if not re.fullmatch(r"[1-5](\d\d|XX)|default", str(code)):
                        problems.append(f"{where}: response key {code!r} is not a status code")
                    response = self.deref(response)
                    if not isinstance(response, dict) or not isinstance(response.get("description"), str):
                        problems.append(f"{where} {code}: no description")
                        continue
                    for mt, media in (response.get("content") or {}).items():
                        if isinstance(media, dict) and "schema" in media:
                            problems += self._schema_problems(media["schema"], f"{where} {code} {mt}")
                        for event, declared in ((media or {}).get("x-events") or {}).items():
                            if "data" in declared:
                                problems += self._schema_problems(declared["data"], f"{where} {code} event {event}")
                oid = operation.get("operationId")
                if oid:
                    if oid in operation_ids:
                        problems.append(f"{where}: operationId {oid} also used by {operation_ids[oid]}")
                    operation_ids[oid] = where
                for requirement in operation.get("security") or []:
                    for name in requirement:
                        if name not in schemes:
                            problems.append(f"{where}: security scheme {name} is not in components.securitySchemes")
                parameters = path_level + [self.deref(p) for p in operation.get("parameters") or []]
                declared_path = {p.get("name") for p in parameters if p.get("in") == "path"}
                for p in parameters:
                    if p.get("in") not in ("path", "query", "header", "cookie"):
                        problems.append(f"{where}: parameter {p.get('name')} has in={p.get('in')!r}")
                    if p.get("in") == "path" and p.get("required") is not True:
                        problems.append(f"{where}: path parameter {p.get('name')} is not required: true")
                    if "schema" in p:
                        problems += self._schema_problems(p["schema"], f"{where} parameter {p.get('name')}")
                if declared_path != wanted:
                    problems.append(f"{where}: path parameters {sorted(declared_path)} but the template has {sorted(wanted)}")
                body = operation.get("requestBody")
                if body is not None:
                    for mt, media in (self.deref(body).get("content") or {}).items():
                        if isinstance(media, dict) and "schema" in media:
                            problems += self._schema_problems(media["schema"], f"{where} request {mt}")
        for name, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
            problems += self._schema_problems(schema, f"components.schemas.{name}")
        unrouted = doc.get("x-unrouted-responses") or {}
        for kind in ("unknown-path", "other-method"):
            if not unrouted.get(kind):
                problems.append(f"x-unrouted-responses.{kind} is missing")
        return problems

    def _schema_problems(self, schema, where):
        from jsonschema.exceptions import SchemaError

        try:
            self._validator_class.check_schema(self.deref(schema))
        except SchemaError as exc:
            return [f"{where}: not a valid JSON Schema 2020-12: {short(exc.message, 200)}"]
        return []

    def coverage(self, seen):
        """(METHOD, template, status key) declared for an operation and never seen."""
        missing = []
        for template, _, item in self.routes:
            for method in METHODS:
                operation = item.get(method)
                if isinstance(operation, dict):
                    for key in operation.get("responses") or {}:
                        if (method.upper(), template, str(key)) not in seen:
                            missing.append((method.upper(), template, str(key)))
        return missing


# --------------------------------------------------------------------------- the pytest plugin


def check_records(records):
    """Lines for every record that disagrees with the spec."""
    if not records:
        return []
    try:
        current = spec()
    except ImportError as exc:
        return [f"cannot check {len(records)} answer(s): {exc} (Debian: apt-get install python3-jsonschema python3-yaml)"]
    except Exception as exc:
        return [f"cannot check {len(records)} answer(s): {SPEC_PATH} does not load: {exc!r}"]
    lines = []
    for record in records:
        RECORDER.checked += 1
        for problem in current.check(record):
            lines.append(f"{record.describe()}\n    {problem}")
    return lines


def report_text(lines, limit=60):
    head = f"{len(lines)} answer(s) of flashgate disagree with {SPEC_PATH.relative_to(REPO)}"
    shown = lines[:limit]
    more = [f"... and {len(lines) - limit} more"] if len(lines) > limit else []
    return "\n".join(
        [head, "(fix the server if it breaks shared/api.md, else describe the answer in the spec):", ""] + shown + more
    )


class Plugin:
    """Checks each test's recorded answers at its teardown, and the rest at the end of the session."""

    def __init__(self):
        self.leftover = []

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item):
        RECORDER.current_test = item.nodeid
        try:
            yield
        finally:
            RECORDER.current_test = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if call.when != "teardown":
            return
        report = outcome.get_result()
        lines = check_records(RECORDER.take(item.nodeid))
        if not lines:
            return
        text = report_text(lines)
        if report.failed:
            report.sections.append(("openapi conformance", text))
        else:
            report.outcome = "failed"
            report.longrepr = text

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session):
        self.leftover = check_records(RECORDER.take(everything=True))
        if self.leftover and session.exitstatus == 0:
            session.exitstatus = 1

    def pytest_terminal_summary(self, terminalreporter, config):
        if RECORDER.checked == 0 and not self.leftover:
            return
        write = terminalreporter.write_line
        if self.leftover:
            terminalreporter.section("openapi conformance (answers outside any test)", red=True)
            for line in report_text(self.leftover).splitlines():
                write(line)
        write(f"openapi: {RECORDER.checked} answers and events checked against {SPEC_PATH.relative_to(REPO)}")
        if config.getoption("verbose") > 0:
            missing = spec().coverage(RECORDER.seen)
            if missing:
                write(f"openapi: declared responses this run did not see ({len(missing)}):")
                for method, template, key in missing:
                    write(f"    {method} {template} {key}")
