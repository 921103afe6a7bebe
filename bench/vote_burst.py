"""The vote burst benchmark of docs/BENCHMARKS.md ("Vote burst and waiting phones").

3,000 signed-in deputies each cast a choose-10-of-15 ballot paper at once over 300 connections
(wrk with bench/vote.lua, every phone's token once), against the server as ``make run`` starts
it, after a baseline on the trivial endpoint in the same run. Then the database is checked:
every vote counted exactly once. Prints a table and the medians; exits 1 when a target is missed.

The server, wrk and the reporting helpers are bench/run.py's (the sign-in burst).
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import run  # noqa: E402  (bench/run.py: Server, wrk, machine, ...)
from run import SECRET_KEY, Server, machine, median, sqlalchemy_url, wrk  # noqa: E402

# The targets of issue 3.
P99_LIMIT_MS = 500
RATIO_FLOOR = 0.30

ITEMS = 15
PLACES = 10


# -- the database ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteSeed:
    meeting_id: int
    tokens: list  # the deputies' device tokens, all signed in
    organizer_api_token: str
    ballots: list  # ids of the choose-10-of-15 ballots, opened unless listed in ``drafts``
    items: dict  # ballot id -> its item ids
    drafts: list = field(default_factory=list)  # ballots left as drafts (bench/waiting.py opens one)


def add_ballots(database_uri, seeded, open_count=1, draft_count=0):
    """Sign every deputy in (one UPDATE), then create choose-10-of-15 ballots and open the first ones.

    The ballots go through the app's own operations (``create_ballot``, ``open_ballot``), so
    their rules, items and state are exactly what an organizer would make.
    """
    from sqlalchemy import text

    from voting import create_app
    from voting.accounts.models import User
    from voting.ballots import operations as ballots
    from voting.extensions import db
    from voting.meetings.models import Meeting
    from voting.timeutil import utcnow

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "SECRET_KEY": SECRET_KEY})
    with app.app_context():
        db.session.execute(
            text(
                "UPDATE meeting_member SET checked_in_at = :now, checkin_method = 'manual'"
                " WHERE meeting_id = :meeting AND checked_in_at IS NULL"
            ),
            {"now": utcnow(), "meeting": seeded.meeting_id},
        )
        organizer = db.session.scalar(db.select(User).where(User.username == seeded.organizer_username))
        meeting = db.session.get(Meeting, seeded.meeting_id)
        made, items = [], {}
        for number in range(1, open_count + draft_count + 1):
            ballot = ballots.create_ballot(
                organizer,
                meeting,
                f"基准测试票决{number}",
                "choose",
                [f"民生实事候选项目{i}" for i in range(1, ITEMS + 1)],
                places=PLACES,
            )
            if number <= open_count:
                ballots.open_ballot(organizer, ballot)
            made.append(ballot.id)
            items[ballot.id] = [item.id for item in ballot.items]
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return VoteSeed(
        meeting_id=seeded.meeting_id,
        tokens=list(seeded.burst_tokens),
        organizer_api_token=seeded.organizer_api_token,
        ballots=made,
        items=items,
        drafts=made[open_count:],
    )


def _engine(database_url):
    from sqlalchemy import create_engine

    return create_engine(sqlalchemy_url(database_url))


def vote_counts(database_url, ballot_id):
    """Return what the database holds for a ballot: participations, papers, valid papers, distinct receipts."""
    from sqlalchemy import text

    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            one = lambda sql: conn.execute(text(sql), {"b": ballot_id}).scalar_one()  # noqa: E731
            return {
                "participations": one("SELECT COUNT(*) FROM ballot_participation WHERE ballot_id = :b"),
                "papers": one("SELECT COUNT(*) FROM cast_ballot WHERE ballot_id = :b"),
                "valid": one("SELECT COUNT(*) FROM cast_ballot WHERE ballot_id = :b AND valid"),
                "receipts": one("SELECT COUNT(DISTINCT receipt) FROM cast_ballot WHERE ballot_id = :b"),
                "deputies": one("SELECT COUNT(DISTINCT deputy_id) FROM ballot_participation WHERE ballot_id = :b"),
            }
    finally:
        engine.dispose()


def reset_votes(database_url, ballot_ids, drafts=()):
    """PostgreSQL between runs: forget the votes on these ballots and put ``drafts`` back to draft."""
    from sqlalchemy import text

    engine = _engine(database_url)
    try:
        with engine.begin() as conn:
            for ballot_id in ballot_ids:
                conn.execute(text("DELETE FROM cast_ballot WHERE ballot_id = :b"), {"b": ballot_id})
                conn.execute(text("DELETE FROM ballot_participation WHERE ballot_id = :b"), {"b": ballot_id})
            for ballot_id in drafts:
                conn.execute(
                    text("UPDATE ballot SET state = 'draft', opened_at = NULL, closes_at = NULL WHERE id = :b"),
                    {"b": ballot_id},
                )
    finally:
        engine.dispose()


class Databases:
    """A seeded SQLite template copied afresh for each run, or one PostgreSQL database reset between runs."""

    def __init__(self, workdir, args, postgres=None, open_count=1, draft_count=0):
        self.workdir, self.postgres, self.count = workdir, postgres, 0
        seed_args = argparse.Namespace(deputies=args.deputies, probes=0)
        if postgres:
            self.url = postgres
            seeded = run.fresh_postgres(postgres, seed_args)
            uri = sqlalchemy_url(postgres)
        else:
            sqlite = run.SqliteDatabases(workdir, seed_args)
            self.template, seeded = sqlite.template, sqlite.seeded
            uri = f"sqlite:///{self.template}"
        self.seed = add_ballots(uri, seeded, open_count, draft_count)
        self.tokens_file = workdir / f"tokens-{'pg' if postgres else 'sqlite'}.txt"
        self.tokens_file.write_text("\n".join(self.seed.tokens) + "\n")

    def fresh(self):
        self.count += 1
        if self.postgres:
            if self.count > 1:
                reset_votes(self.postgres, self.seed.ballots, self.seed.drafts)
            return self.postgres
        run_dir = self.workdir / f"run{self.count}"
        run_dir.mkdir()
        shutil.copy(self.template, run_dir / "voting.db")
        return f"sqlite:///{run_dir / 'voting.db'}"


# -- one run -----------------------------------------------------------------------------------------


@dataclass
class VoteRun:
    label: str
    load: float = 0.0  # the machine's 1-minute load average when the run started
    ping_rps: float = 0.0
    ping_p99_ms: float = 0.0
    ping_cpu_ms: float = 0.0
    vote_rps: float = 0.0
    vote_p50_ms: float = 0.0
    vote_p99_ms: float = 0.0
    vote_max_ms: float = 0.0
    vote_cpu_ms: float = 0.0
    seconds: float = 0.0  # first vote sent to last answer
    statuses: dict = field(default_factory=dict)
    outcomes: dict = field(default_factory=dict)
    socket_errors: int = 0
    counts: dict = field(default_factory=dict)

    @property
    def ratio(self):
        return self.vote_rps / self.ping_rps if self.ping_rps else 0.0

    def exact(self, deputies):
        return (
            self.statuses == {"200": deputies}
            and self.outcomes == {"valid": deputies}
            and self.socket_errors == 0
            and all(
                self.counts.get(k) == deputies for k in ("participations", "papers", "valid", "receipts", "deputies")
            )
        )


def wrk_base(args, connections=None):
    return ["-t", str(args.wrk_threads), "-c", str(connections or args.connections), "--timeout", "30s"]


def lua_env(args, **extra):
    env = {
        "BENCH_LUA_DIR": str(BENCH_DIR),
        "BENCH_WRK_THREADS": str(args.wrk_threads),
        "BENCH_KEEPALIVE": "1" if args.keepalive else "0",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


def ping_baseline(server, args, seconds):
    """The trivial endpoint over the same connections as the burst, after a second of warm-up."""
    url = f"http://127.0.0.1:{server.port}/api/v1/ping"
    ping_lua = str(BENCH_DIR / "ping.lua")
    wrk([*wrk_base(args), "-d", "1s", "-s", ping_lua, url], lua_env(args), args.wrk_threads)
    cpu = server.cpu_seconds()
    ping = wrk([*wrk_base(args), "-d", f"{seconds}s", "-s", ping_lua, url], lua_env(args), args.wrk_threads)
    rps = ping["requests"] / (ping["duration_us"] / 1e6)
    cpu_ms = 1000 * (server.cpu_seconds() - cpu) / max(ping["requests"], 1)
    return rps, ping["latency_us"]["p99"] / 1000, cpu_ms, ping


def vote_env(args, seed, tokens_file, ballots):
    return lua_env(
        args,
        BENCH_TOKENS=tokens_file,
        BENCH_BALLOTS=",".join(str(b) for b in ballots),
        BENCH_ITEMS=";".join(",".join(str(i) for i in seed.items[ballot]) for ballot in ballots),
        BENCH_PLACES=PLACES,
    )


def one_run(label, args, workdir, databases):
    result = VoteRun(label, load=os.getloadavg()[0])
    database_url = databases.fresh()
    seed, ballot_id = databases.seed, databases.seed.ballots[0]
    with Server(workdir, database_url, args.worker_class, args.workers) as server:
        result.ping_rps, result.ping_p99_ms, result.ping_cpu_ms, _ = ping_baseline(server, args, args.ping_seconds)
        cpu = server.cpu_seconds()
        burst = wrk(
            [*wrk_base(args), "-d", "120s", "-s", str(BENCH_DIR / "vote.lua"), f"http://127.0.0.1:{server.port}"],
            vote_env(args, seed, databases.tokens_file, [ballot_id]),
            args.wrk_threads,
            wait_for_threads=True,
        )
        result.vote_cpu_ms = 1000 * (server.cpu_seconds() - cpu) / max(burst["requests"], 1)
    result.seconds = burst["span_s"]
    result.vote_rps = burst["requests"] / burst["span_s"] if burst["span_s"] else 0.0
    latency = burst["latency_us"]
    result.vote_p50_ms, result.vote_p99_ms, result.vote_max_ms = (latency[k] / 1000 for k in ("p50", "p99", "max"))
    result.statuses, result.outcomes = burst["statuses"], burst["outcomes"]
    errors = burst["errors"]
    result.socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    result.counts = vote_counts(database_url, ballot_id)
    return result


# -- reporting ---------------------------------------------------------------------------------------

_COLUMNS = (
    ("run", 12, lambda r: r.label),
    ("load", 5, lambda r: f"{r.load:.1f}"),
    ("ping/s", 7, lambda r: f"{r.ping_rps:.0f}"),
    ("cpu ms", 6, lambda r: f"{r.ping_cpu_ms:.2f}"),
    ("votes/s", 7, lambda r: f"{r.vote_rps:.0f}"),
    ("p50 ms", 6, lambda r: f"{r.vote_p50_ms:.0f}"),
    ("p99 ms", 6, lambda r: f"{r.vote_p99_ms:.0f}"),
    ("max ms", 6, lambda r: f"{r.vote_max_ms:.0f}"),
    ("cpu ms", 6, lambda r: f"{r.vote_cpu_ms:.2f}"),
    ("ratio", 5, lambda r: f"{r.ratio:.2f}"),
    ("HTTP 200", 8, lambda r: str(r.statuses.get("200", 0))),
    ("voters", 6, lambda r: str(r.counts.get("participations", 0))),
    ("papers", 6, lambda r: str(r.counts.get("papers", 0))),
    ("valid", 6, lambda r: str(r.counts.get("valid", 0))),
)


def print_header():
    line = " ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w, _) in enumerate(_COLUMNS))
    print(
        f"{'':{_COLUMNS[0][1] + 7}} -- GET /api/v1/ping --  ------ POST /api/v1/ballots/<id>/votes ------"
        "         -------- database --------"
    )
    print(line)
    print("-" * len(line))


def print_row(r, deputies):
    print(" ".join(f"{f(r):<{w}}" if i == 0 else f"{f(r):>{w}}" for i, (_, w, f) in enumerate(_COLUMNS)), flush=True)
    if not r.exact(deputies):
        print(
            f"{'':<12} HTTP statuses {r.statuses}, answers {r.outcomes}, socket errors {r.socket_errors}, "
            f"database {r.counts}"
        )


def summarize(label, results, deputies):
    """Print the medians and the targets; return whether all targets were met."""
    p99 = median([r.vote_p99_ms for r in results])
    ratio = median([r.ratio for r in results])
    ping_cpu, vote_cpu = median([r.ping_cpu_ms for r in results]), median([r.vote_cpu_ms for r in results])
    exact = all(r.exact(deputies) for r in results)
    print(
        f"\n{label}, medians of {len(results)} runs: ping {median([r.ping_rps for r in results]):.0f}/s, "
        f"votes {median([r.vote_rps for r in results]):.0f}/s, p50 {median([r.vote_p50_ms for r in results]):.0f} ms, "
        f"p99 {p99:.0f} ms, ratio {ratio:.2f}; server CPU per request: ping {ping_cpu:.2f} ms, "
        f"vote {vote_cpu:.2f} ms (CPU ratio {ping_cpu / vote_cpu if vote_cpu else 0:.2f}); "
        f"load average {median([r.load for r in results]):.1f}"
    )
    rows = (
        (f"all {deputies} counted exactly once (HTTP, DB)", "yes" if exact else "NO", exact),
        (f"vote p99 <= {P99_LIMIT_MS} ms", f"{p99:.0f} ms", p99 <= P99_LIMIT_MS),
        (f"votes/trivial throughput >= {RATIO_FLOOR:.2f}", f"{ratio:.3f}", ratio >= RATIO_FLOOR),
    )
    for name, value, ok in rows:
        print(f"  {name:<44} {value:>10}  {'met' if ok else 'MISSED'}")
    return all(ok for *_, ok in rows)


# -- main --------------------------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, metavar="N", help="bursts per database (default 3)")
    parser.add_argument("--deputies", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--ping-seconds", type=int, default=3, help="length of the trivial-endpoint baseline")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--keepalive", action="store_true", help="reuse the connections (default: one request per connection)"
    )
    parser.add_argument("--worker-class", help="override VOTING_WORKER_CLASS (gevent, sync)")
    parser.add_argument("--workers", type=int, help="override VOTING_WORKERS")
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL runs")
    parser.add_argument(
        "--postgres", metavar="URL", help="also the runs on this PostgreSQL database (its public schema is dropped!)"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, run._on_signal)
    signal.signal(signal.SIGHUP, run._on_signal)
    print(f"Vote burst. Machine: {machine()}")
    started = time.monotonic()
    ok = True
    with tempfile.TemporaryDirectory(prefix="voting-bench-votes-") as tmp:
        workdir = Path(tmp)
        try:
            for postgres in ([] if args.no_sqlite else [None]) + ([args.postgres] if args.postgres else []):
                name = "PostgreSQL" if postgres else "SQLite"
                print(
                    f"\n{name}: seeding {args.deputies} deputies with bound phones, signed in, one open "
                    f"choose-{PLACES}-of-{ITEMS} ballot ...",
                    flush=True,
                )
                databases = Databases(workdir, args, postgres)
                print(
                    f"Each run: a fresh server{' and database' if not postgres else ' (votes deleted)'}, "
                    f"{args.ping_seconds} s of GET /api/v1/ping, then {args.deputies} votes over {args.connections} "
                    f"connections ({'keep-alive' if args.keepalive else 'one request per connection'}).\n",
                    flush=True,
                )
                print_header()
                results = []
                for index in range(args.runs):
                    results.append(one_run(f"{name[:6].lower()} {index + 1}", args, workdir, databases))
                    print_row(results[-1], args.deputies)
                ok = summarize(name, results, args.deputies) and ok
        finally:
            run._stop_everything()
    print(f"\nTotal time {time.monotonic() - started:.0f} s. {'All targets met.' if ok else 'TARGET MISSED.'}")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        run._stop_everything()
        sys.exit(130)
