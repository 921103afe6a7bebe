"""The sign-in burst benchmark of docs/BENCHMARKS.md; ``make bench`` runs it.

Starts the server as ``make run`` does (gunicorn with gunicorn.conf.py, wsgi:app) on a fresh
database in a temporary directory, then, in each run: the trivial endpoint for a baseline, then
3,000 bound phones signing in at once over 300 connections (wrk with bench/checkin.lua), while a
big-screen client polls the counts as the projector page does. Prints a table and exits 1 when a
target is missed.
"""

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH_DIR))

import seed  # noqa: E402

SECRET_KEY = "bench-secret-key-" + "x" * 32
PASSWORD = "bench-organizer-password"
SCREEN_POLL_SECONDS = 0.5  # what static/js/screen.js waits between polls
# The only setting the benchmark changes: codes rotate every minute instead of every 15 s, so
# that a burst slowed down by a busy machine is not refused for an expired code. It does not
# change what a sign-in costs.
CHECKIN_CODE_PERIOD = 60

# The targets of the issue.
P99_LIMIT_MS = 300
RATIO_FLOOR = 1 / 3
SCREEN_LIMIT_S = 1.0

# Worker settings tried by --compare.
COMPARE_SETTINGS = (("gevent", 1), ("gevent", 2), ("gevent", 4), ("sync", 2), ("sync", 4), ("sync", 8))


# -- HTTP from Python: the organizer's code, the big screen, single sign-ins -------------------------


class Client:
    """A keep-alive HTTP/1.1 client that remembers the session cookie."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}
        self.conn = HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (ConnectionError, OSError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, data

    def json(self, method, path, payload=None, token=None):
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = None
        if payload is not None:
            body = json.dumps(payload)
            headers["Content-Type"] = "application/json"
        status, data = self.request(method, path, body, headers)
        return status, json.loads(data) if data else None

    def login(self, username, password):
        """Sign in through the real login form, CSRF token included."""
        status, page = self.request("GET", "/login")
        match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page)
        if status != 200 or match is None:
            raise RuntimeError(f"login page: HTTP {status}")
        form = urlencode({"csrf_token": match.group(1).decode(), "username": username, "password": password})
        status, _ = self.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"login failed: HTTP {status}")

    def close(self):
        self.conn.close()


class ScreenPoller(threading.Thread):
    """Poll screen.json like the projector page: fetch, wait 0.5 s, fetch again."""

    def __init__(self, port, meeting_id, username, password):
        super().__init__(daemon=True)
        self.client = Client(port)
        self.client.login(username, password)
        self.path = f"/meetings/{meeting_id}/screen.json"
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.samples = []  # (time the answer arrived, present, seconds the request took)
        self.errors = 0

    def run(self):
        while not self.stop_event.is_set():
            started = time.monotonic()
            try:
                status, state = self.client.json("GET", self.path)
            except (OSError, ValueError):
                status, state = 0, None
            arrived = time.monotonic()
            with self.lock:
                if status == 200:
                    self.samples.append((arrived, state["present"], arrived - started))
                else:
                    self.errors += 1
            self.stop_event.wait(SCREEN_POLL_SECONDS)

    def first_showing(self, present):
        """Return when the screen first showed a count of at least ``present``, or None."""
        with self.lock:
            for arrived, shown, _ in self.samples:
                if shown >= present:
                    return arrived
        return None

    def present_after(self, after, timeout):
        """Return the count of the first answer to a poll sent after ``after``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for arrived, shown, took in self.samples:
                    if arrived - took >= after:
                        return shown
            time.sleep(0.01)
        raise RuntimeError("the big screen stopped answering")

    def wait_showing(self, present, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.first_showing(present)
            if seen is not None:
                return seen
            time.sleep(0.01)
        return None

    def poll_times(self, start, end):
        with self.lock:
            return [took for arrived, _, took in self.samples if start <= arrived <= end]

    def stop(self):
        self.stop_event.set()
        self.join(timeout=5)
        self.client.close()


# -- the server --------------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn started as ``make run`` starts it, with the benchmark's database and address."""

    def __init__(self, workdir, database_url, worker_class=None, workers=None):
        self.port = free_port()
        self.log_path = workdir / f"gunicorn-{self.port}.log"
        self.env = dict(os.environ)
        self.env.update(
            {
                "DATABASE_URL": database_url,
                "VOTING_SECRET_KEY": SECRET_KEY,
                "VOTING_BIND": f"127.0.0.1:{self.port}",
                "VOTING_CHECKIN_CODE_PERIOD": str(CHECKIN_CODE_PERIOD),
            }
        )
        if worker_class:
            self.env["VOTING_WORKER_CLASS"] = worker_class
        if workers:
            self.env["VOTING_WORKERS"] = str(workers)
        self.process = None

    def start(self):
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.log = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            [str(gunicorn), "--config", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _RUNNING.add(self)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                client = Client(self.port)
                status, _ = client.request("GET", "/api/v1/ping")
                client.close()
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer within 30 s:\n{self.log_tail()}")

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        _RUNNING.discard(self)
        self.process = None

    def cpu_seconds(self):
        """Return the CPU time the master and its workers have used so far (Linux /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(stat.parent.name), int(fields[1])
            if self.process.pid in (pid, ppid):
                total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / ticks

    def log_tail(self, lines=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


_RUNNING = set()


def _stop_everything(*_):
    for server in list(_RUNNING):
        server.stop()


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


# -- wrk ---------------------------------------------------------------------------------------------


def wrk(args, env, threads, wait_for_threads=False, timeout=180):
    """Run wrk; with wait_for_threads, end it once every thread has reported BENCH_THREAD_DONE."""
    process = subprocess.Popen(
        ["wrk", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    done = 0
    result = None
    ended = None
    output = []
    try:
        for line in process.stdout:
            output.append(line)
            if line.startswith("BENCH_THREAD_DONE"):
                done += 1
                if wait_for_threads and done == threads:
                    ended = time.monotonic()
                    process.send_signal(signal.SIGINT)
            elif line.startswith("BENCH_JSON "):
                result = json.loads(line[len("BENCH_JSON ") :])
        process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    if result is None:
        raise RuntimeError("wrk printed no result:\n" + "".join(output[-20:]))
    result["ended"] = ended
    return result


def wrk_env(args, meeting_id=None, tokens_file=None, code=None):
    env = {
        "BENCH_LUA_DIR": str(BENCH_DIR),
        "BENCH_WRK_THREADS": str(args.wrk_threads),
        "BENCH_KEEPALIVE": "1" if args.keepalive else "0",
    }
    if tokens_file:
        env.update({"BENCH_TOKENS": str(tokens_file), "BENCH_MEETING": str(meeting_id), "BENCH_CODE": code})
    return env


# -- one run -----------------------------------------------------------------------------------------


@dataclass
class RunResult:
    label: str
    ping_rps: float = 0.0
    ping_p99_ms: float = 0.0
    ping_cpu_ms: float = 0.0  # server CPU time per request
    checkin_cpu_ms: float = 0.0
    checkin_rps: float = 0.0
    checkin_p50_ms: float = 0.0
    checkin_p99_ms: float = 0.0
    checkin_max_ms: float = 0.0
    ping_statuses: dict = field(default_factory=dict)
    statuses: dict = field(default_factory=dict)
    outcomes: dict = field(default_factory=dict)
    socket_errors: int = 0
    present: int = 0
    screen_poll_max_ms: float = 0.0
    screen_errors: int = 0  # polls of the big screen that failed during the run
    screen_after_burst_s: float | None = None
    probe_latencies: list = field(default_factory=list)

    @property
    def ratio(self):
        return self.checkin_rps / self.ping_rps if self.ping_rps else 0.0


def checkin_code(port, meeting_id, token):
    client = Client(port)
    try:
        status, body = client.json("GET", f"/api/v1/meetings/{meeting_id}/checkin-code", token=token)
    finally:
        client.close()
    if status != 200:
        raise RuntimeError(f"getCheckinCode: HTTP {status} {body}")
    return body["code"]


def probe_screen(port, poller, seeded, probes):
    """Sign probe deputies in one at a time; return seconds from each 200 to the screen showing it."""
    client = Client(port)
    latencies = []
    try:
        for token in seeded.probe_tokens[:probes]:
            shown = poller.present_after(time.monotonic(), timeout=5)
            # Land at a random moment of the screen's polling cycle.
            time.sleep(random.uniform(0, SCREEN_POLL_SECONDS))
            code = checkin_code(port, seeded.meeting_id, seeded.organizer_api_token)
            status, body = client.json(
                "POST", f"/api/v1/meetings/{seeded.meeting_id}/checkin", {"code": code}, token=token
            )
            answered = time.monotonic()
            if status != 200 or body.get("status") != "checked_in":
                raise RuntimeError(f"probe sign-in: HTTP {status} {body}")
            seen = poller.wait_showing(shown + 1, timeout=5)
            latencies.append(None if seen is None else max(0.0, seen - answered))
    finally:
        client.close()
    return latencies


def one_run(label, args, workdir, database_url, seeded, tokens_file, probes=0, worker_class=None, workers=None):
    result = RunResult(label)
    threads = args.wrk_threads
    base = ["-t", str(threads), "-c", str(args.connections), "--timeout", "30s"]
    with Server(workdir, database_url, worker_class, workers) as server:
        url = f"http://127.0.0.1:{server.port}"
        env = wrk_env(args)
        # Warm both workers up, then the baseline on the same connections.
        wrk([*base, "-d", "1s", "-s", str(BENCH_DIR / "ping.lua"), f"{url}/api/v1/ping"], env, threads)
        cpu = server.cpu_seconds()
        ping = wrk(
            [*base, "-d", f"{args.ping_seconds}s", "-s", str(BENCH_DIR / "ping.lua"), f"{url}/api/v1/ping"],
            env,
            threads,
        )
        result.ping_cpu_ms = 1000 * (server.cpu_seconds() - cpu) / max(ping["requests"], 1)
        result.ping_rps = ping["requests"] / (ping["duration_us"] / 1e6)
        result.ping_p99_ms = ping["latency_us"]["p99"] / 1000
        result.ping_statuses = ping["statuses"]

        poller = ScreenPoller(server.port, seeded.meeting_id, seeded.organizer_username, seeded.organizer_password)
        poller.start()
        try:
            # Fetch the code just before the burst, as a deputy scans the screen just before tapping.
            code = checkin_code(server.port, seeded.meeting_id, seeded.organizer_api_token)
            burst_started = time.monotonic()
            cpu = server.cpu_seconds()
            burst = wrk(
                [*base, "-d", "120s", "-s", str(BENCH_DIR / "checkin.lua"), url],
                wrk_env(args, seeded.meeting_id, tokens_file, code),
                threads,
                wait_for_threads=True,
            )
            ended = burst["ended"] or time.monotonic()
            result.checkin_cpu_ms = 1000 * (server.cpu_seconds() - cpu) / max(burst["requests"], 1)
            seen = poller.wait_showing(len(seeded.burst_tokens), timeout=5)
            result.screen_after_burst_s = None if seen is None else max(0.0, seen - ended)
            result.screen_poll_max_ms = 1000 * max(poller.poll_times(burst_started, ended) or [0.0])
            if probes:
                result.probe_latencies = probe_screen(server.port, poller, seeded, probes)
        finally:
            poller.stop()
            result.screen_errors = poller.errors
    result.checkin_rps = burst["requests"] / burst["span_s"] if burst["span_s"] else 0.0
    result.checkin_p50_ms = burst["latency_us"]["p50"] / 1000
    result.checkin_p99_ms = burst["latency_us"]["p99"] / 1000
    result.checkin_max_ms = burst["latency_us"]["max"] / 1000
    result.statuses = burst["statuses"]
    result.outcomes = burst["outcomes"]
    errors = burst["errors"]
    result.socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    result.present = seed.burst_present(sqlalchemy_url(database_url), seeded.meeting_id)
    return result


# -- databases ---------------------------------------------------------------------------------------


def sqlalchemy_url(url):
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


class SqliteDatabases:
    """Seed one SQLite database, then hand out a fresh copy of it for each run."""

    def __init__(self, workdir, args):
        self.workdir = workdir
        self.template = workdir / "template.db"
        self.seeded = seed.seed(f"sqlite:///{self.template}", SECRET_KEY, args.deputies, args.probes, PASSWORD)
        self.count = 0

    def fresh(self):
        self.count += 1
        run_dir = self.workdir / f"run{self.count}"
        run_dir.mkdir()
        shutil.copy(self.template, run_dir / "voting.db")
        return f"sqlite:///{run_dir / 'voting.db'}"


def fresh_postgres(url, args):
    """Empty the PostgreSQL database's public schema and seed it."""
    from sqlalchemy import create_engine, text

    engine = create_engine(sqlalchemy_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return seed.seed(sqlalchemy_url(url), SECRET_KEY, args.deputies, args.probes, PASSWORD)


# -- reporting ---------------------------------------------------------------------------------------


def machine():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sqlite3

    import gunicorn

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()
    return (
        f"{os.cpu_count()} x {cpu}, Linux {platform.release()}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, gunicorn {gunicorn.__version__}, "
        f"{wrk_version[0].split(' Copyright')[0] if wrk_version else 'wrk'}, "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )


# (heading, width, value) of each column of the results table.
_COLUMNS = (
    ("run", 18, lambda r: r.label),
    ("ping/s", 7, lambda r: f"{r.ping_rps:.0f}"),
    ("p99 ms", 6, lambda r: f"{r.ping_p99_ms:.0f}"),
    ("cpu ms", 6, lambda r: f"{r.ping_cpu_ms:.2f}"),
    ("checkin/s", 9, lambda r: f"{r.checkin_rps:.0f}"),
    ("p50 ms", 6, lambda r: f"{r.checkin_p50_ms:.0f}"),
    ("p99 ms", 6, lambda r: f"{r.checkin_p99_ms:.0f}"),
    ("max ms", 6, lambda r: f"{r.checkin_max_ms:.0f}"),
    ("cpu ms", 6, lambda r: f"{r.checkin_cpu_ms:.2f}"),
    ("ratio", 5, lambda r: f"{r.ratio:.2f}"),
    ("HTTP 200", 8, lambda r: str(r.statuses.get("200", 0))),
    ("present", 7, lambda r: str(r.present)),
    ("poll ms", 7, lambda r: f"{r.screen_poll_max_ms:.0f}"),
    ("screen s", 8, lambda r: "-" if r.screen_after_burst_s is None else f"{r.screen_after_burst_s:.2f}"),
)


# Headings over groups of columns: (first column, last column, heading).
_GROUPS = ((1, 3, "GET /api/v1/ping"), (4, 9, "POST /api/v1/meetings/<id>/checkin"), (10, 13, "recorded, screen"))


def print_header():
    widths = [w for _, w, _ in _COLUMNS]
    groups = " " * widths[0]
    for first, last, heading in _GROUPS:
        span = sum(widths[first : last + 1]) + (last - first)
        groups += " " + f" {heading} ".center(span, "-")
    print(groups)
    line = " ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w, _) in enumerate(_COLUMNS))
    print(line)
    print("-" * len(line))


def print_row(r):
    print(" ".join(f"{f(r):<{w}}" if i == 0 else f"{f(r):>{w}}" for i, (_, w, f) in enumerate(_COLUMNS)), flush=True)
    if set(r.statuses) != {"200"} or set(r.outcomes) != {"checked_in"} or r.socket_errors or r.screen_errors:
        print(
            f"{'':<18} sign-in HTTP statuses {r.statuses}, answers {r.outcomes}, socket errors {r.socket_errors}, "
            f"failed screen polls {r.screen_errors}"
        )
    if set(r.ping_statuses) != {"200"}:
        print(f"{'':<18} ping HTTP statuses {r.ping_statuses}")


def median(values):
    return statistics.median(values) if values else 0.0


def check_targets(results, deputies, probe_latencies):
    """Return (rows for the targets table, whether all were met)."""
    ratio = median([r.ratio for r in results])
    p99 = median([r.checkin_p99_ms for r in results])
    exact = all(
        r.present == deputies
        and r.statuses == {"200": deputies}
        and r.outcomes == {"checked_in": deputies}
        and r.socket_errors == 0
        for r in results
    )
    screen_values = [r.screen_after_burst_s for r in results] + probe_latencies
    screen_ok = (
        bool(screen_values)
        and all(v is not None and v <= SCREEN_LIMIT_S for v in screen_values)
        and not any(r.screen_errors for r in results)
    )
    measured = [v for v in screen_values if v is not None]
    rows = [
        (f"all {deputies} recorded exactly once, all HTTP 200", "every run", "yes" if exact else "NO", exact),
        (f"check-in p99 <= {P99_LIMIT_MS} ms", "median of runs", f"{p99:.0f} ms", p99 <= P99_LIMIT_MS),
        ("check-in/trivial throughput >= 1/3", "median of runs", f"{ratio:.3f}", ratio >= RATIO_FLOOR),
        (
            f"big screen shows a sign-in within {SCREEN_LIMIT_S:.0f} s",
            "max over probes and bursts",
            f"{max(measured):.2f} s" if measured else "not seen",
            screen_ok,
        ),
    ]
    return rows, all(ok for *_, ok in rows)


def print_targets(rows):
    print(f"{'target':<44} {'over':<28} {'measured':>10}  result")
    for name, over, value, ok in rows:
        print(f"{name:<44} {over:<28} {value:>10}  {'met' if ok else 'MISSED'}")


def summarize(label, results):
    ping_cpu = median([r.ping_cpu_ms for r in results])
    checkin_cpu = median([r.checkin_cpu_ms for r in results])
    print(
        f"  {label}: ping {median([r.ping_rps for r in results]):.0f}/s, "
        f"check-in {median([r.checkin_rps for r in results]):.0f}/s, "
        f"p50 {median([r.checkin_p50_ms for r in results]):.0f} ms, "
        f"p99 {median([r.checkin_p99_ms for r in results]):.0f} ms, "
        f"ratio {median([r.ratio for r in results]):.2f}"
    )
    print(
        f"  server CPU per request: ping {ping_cpu:.2f} ms, check-in {checkin_cpu:.2f} ms "
        f"(ratio {ping_cpu / checkin_cpu if checkin_cpu else 0:.2f})"
    )


# -- main --------------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs",
        type=int,
        default=5,
        choices=range(1, 101),
        metavar="N",
        help="bursts on SQLite, each on a fresh database (default 5)",
    )
    parser.add_argument("--deputies", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--ping-seconds", type=int, default=3, help="length of the trivial-endpoint baseline")
    parser.add_argument("--probes", type=int, default=20, help="single sign-ins timed on the big screen")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--keepalive",
        action="store_true",
        help="reuse each connection for many requests (default: one request per connection, "
        "as each phone opens its own)",
    )
    parser.add_argument("--worker-class", help="override VOTING_WORKER_CLASS (gevent, sync)")
    parser.add_argument("--workers", type=int, help="override VOTING_WORKERS")
    parser.add_argument(
        "--compare", action="store_true", help="also one burst per worker setting (gevent/sync x 1, 2, 4 workers)"
    )
    parser.add_argument(
        "--postgres", metavar="URL", help="also one burst on this PostgreSQL database (its public schema is dropped!)"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    print(f"Machine: {machine()}")
    if os.getloadavg()[0] > 1.5:
        print("Warning: the machine is busy with other work; expect slower and noisier figures.")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="voting-bench-") as tmp:
        workdir = Path(tmp)
        try:
            return run_all(args, workdir, started)
        finally:
            _stop_everything()


def run_all(args, workdir, started):
    print(f"Seeding {args.deputies} deputies with bound phones (+{args.probes} for the screen probe) ...", flush=True)
    databases = SqliteDatabases(workdir, args)
    seeded = databases.seeded
    tokens_file = workdir / "tokens.txt"
    tokens_file.write_text("\n".join(seeded.burst_tokens) + "\n")
    print(
        f"Seeded in {time.monotonic() - started:.0f} s. Each run: a fresh server and database, "
        f"{args.ping_seconds} s of GET /api/v1/ping, then {args.deputies} sign-ins over {args.connections} "
        f"connections ({'keep-alive' if args.keepalive else 'one request per connection'}). Sign-in codes "
        f"rotate every {CHECKIN_CODE_PERIOD} s here (15 s in production).\n",
        flush=True,
    )

    setting = (
        f"{args.worker_class or os.environ.get('VOTING_WORKER_CLASS', 'gevent')}, "
        f"{args.workers or os.environ.get('VOTING_WORKERS', os.cpu_count())} workers"
    )
    print_header()
    results = []
    for index in range(args.runs):
        results.append(
            one_run(
                f"sqlite {index + 1}",
                args,
                workdir,
                databases.fresh(),
                seeded,
                tokens_file,
                probes=args.probes if index == 0 else 0,
                worker_class=args.worker_class,
                workers=args.workers,
            )
        )
        print_row(results[-1])
    extra = []
    if args.compare:
        for worker_class, workers in COMPARE_SETTINGS:
            extra.append(
                one_run(
                    f"sqlite {worker_class} x{workers}",
                    args,
                    workdir,
                    databases.fresh(),
                    seeded,
                    tokens_file,
                    worker_class=worker_class,
                    workers=workers,
                )
            )
            print_row(extra[-1])
    if args.postgres:
        pg_seeded = fresh_postgres(args.postgres, args)
        pg_tokens = workdir / "pg-tokens.txt"
        pg_tokens.write_text("\n".join(pg_seeded.burst_tokens) + "\n")
        extra.append(
            one_run(
                "postgresql",
                args,
                workdir,
                args.postgres,
                pg_seeded,
                pg_tokens,
                worker_class=args.worker_class,
                workers=args.workers,
            )
        )
        print_row(extra[-1])

    print()
    print(f"Medians over the {len(results)} SQLite runs:")
    summarize(setting, results)
    probe = [v for v in results[0].probe_latencies] if results else []
    seen = [v for v in probe if v is not None]
    if probe:
        print(
            f"  big screen, {len(probe)} single sign-ins on a quiet server (poll every "
            f"{SCREEN_POLL_SECONDS} s): median {median(seen):.2f} s, max {max(seen) if seen else 0:.2f} s"
            f"{'' if len(seen) == len(probe) else f', {len(probe) - len(seen)} never shown'}"
        )
    after = [r.screen_after_burst_s for r in results if r.screen_after_burst_s is not None]
    if after:
        print(
            f"  big screen after the last sign-in of a burst: median {median(after):.2f} s, max {max(after):.2f} s; "
            f"slowest screen poll during a burst {max(r.screen_poll_max_ms for r in results):.0f} ms"
        )
    print()
    rows, ok = check_targets(results, args.deputies, probe)
    print_targets(rows)
    print(f"\nTotal time {time.monotonic() - started:.0f} s. {'All targets met.' if ok else 'TARGET MISSED.'}")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        status = main()
    except KeyboardInterrupt:
        _stop_everything()
        sys.exit(130)
    # Then the in-process ballot tally and report benchmark (docs/BENCHMARKS.md, "Ballot tally and report").
    import ballot_report

    sys.exit(ballot_report.main([]) or status)
