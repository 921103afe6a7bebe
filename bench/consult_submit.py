"""The opinion submission benchmark of docs/BENCHMARKS.md ("Opinion submissions").

Starts the server as ``make run`` does (gunicorn with gunicorn.conf.py, wsgi:app) on a fresh copy
of a seeded database (a published draft of 100 articles in 6 chapters, a district contact point
and two points under it), and in each run measures with wrk over 300 connections, one after the
other: the trivial endpoint (GET /api/v1/ping) for the baseline, single opinion submissions
(submitOpinion, POST /api/v1/opinions, bench/consult_submit.lua: every request from a client of
its own, so the per-client limit never refuses), and the resident's article page
(GET /c/drafts/<id>). Then it checks that the database holds exactly one opinion per 201 answer.
Prints each run and the medians, and exits 1 when the target of issue 4 is missed: submissions
at least 30% of the trivial endpoint's throughput, measured in the same run.

One server setting differs from production, through the environment: the per-address ceiling
``VOTING_RATELIMIT_OPINION_ADDRESS`` (default 1000 per 10 minutes) is raised, since every request
of the benchmark comes from 127.0.0.1.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import run  # noqa: E402  (bench/run.py: Server, wrk, machine)

RATIO_FLOOR = 0.30
ADDRESS_LIMIT = "100000000 per 10 minutes"
CHAPTERS, PER_CHAPTER = 6, 17  # 102 articles


@dataclass(frozen=True)
class Seeded:
    draft_id: int
    article_ids: list
    point_codes: list


def draft_text():
    """A local regulation of 102 articles in 6 chapters, each of two or three paragraphs."""
    from voting.consultations.splitter import chinese_number

    lines, number = ["某区住宅小区物业管理若干规定（草案征求意见稿）"], 0
    for chapter in range(1, CHAPTERS + 1):
        lines.append(f"第{chinese_number(chapter)}章 第{chinese_number(chapter)}部分规定")
        for _ in range(PER_CHAPTER):
            number += 1
            lines.append(
                f"第{chinese_number(number)}条 物业服务企业应当按照本规定和物业服务合同的约定，"
                f"提供第{number}项物业服务，并在物业管理区域内显著位置公示服务内容和收费标准。"
            )
            lines.append("业主委员会应当对物业服务企业履行合同的情况进行监督，并定期向业主大会报告。")
            if number % 2:
                lines.append("违反前款规定的，由区房屋管理部门责令限期改正；逾期不改正的，依法予以处罚。")
    return "\n".join(lines)


def seed(uri):
    """Migrate, then publish the draft and set up the contact points through the app's own operations."""
    from flask_migrate import upgrade

    from voting import create_app
    from voting.accounts.operations import create_user
    from voting.consultations import operations as ops
    from voting.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": run.SECRET_KEY})
    with app.app_context():
        upgrade()
        organizer, _ = create_user(None, "bench", "Benchmark organizer", "organizer", password=run.PASSWORD)
        draft, _ = ops.create_draft(organizer, draft_text(), explanation="为了规范物业管理活动，制定本规定。")
        ops.publish_draft(organizer, draft)
        district = ops.create_contact_point(organizer, "区人大常委会基层立法联系点", "district")
        points = [ops.create_contact_point(organizer, f"第{i}街道联系点", "point", district) for i in (1, 2)]
        db.session.commit()
        seeded = Seeded(draft.id, [a.id for a in draft.articles], [p.code for p in [district, *points]])
        db.session.remove()
        db.engine.dispose()
    return seeded


def counts(uri):
    """Return (opinions, contact rows) in the database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(run.sqlalchemy_url(uri))
    with engine.connect() as conn:
        opinions = conn.execute(text("SELECT count(*) FROM opinion")).scalar()
        contacts = conn.execute(text("SELECT count(*) FROM opinion_contact")).scalar()
    engine.dispose()
    return opinions, contacts


@dataclass
class Measured:
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_ms: float = 0.0  # server CPU time per request
    statuses: dict = field(default_factory=dict)
    outcomes: dict = field(default_factory=dict)
    socket_errors: int = 0
    errors: dict = field(default_factory=dict)  # wrk's socket errors by kind


@dataclass
class RunResult:
    label: str
    ping: Measured = None
    submit: Measured = None
    page: Measured = None
    stored: int = 0
    contacts: int = 0
    page_bytes: int = 0

    @property
    def ratio(self):
        return self.submit.rps / self.ping.rps if self.ping.rps else 0.0

    @property
    def created(self):
        return self.submit.statuses.get("201", 0)

    @property
    def exact(self):
        """One stored opinion per 201 answer, none refused or repeated, no socket errors."""
        return (
            set(self.submit.statuses) == {"201"}
            and self.submit.outcomes.get("new") == self.created == self.stored
            and self.submit.socket_errors == 0
        )


def measure(server, args, env, path=""):
    """Run wrk with ping.lua (no env) or consult_submit.lua; submissions run until BENCH_COUNT are answered."""
    submit = env.get("BENCH_MODE") == "submit"
    seconds = 180 if submit else args.seconds
    base = ["-t", str(args.wrk_threads), "-c", str(args.connections), "--timeout", "30s", "-d", f"{seconds}s"]
    script = str(BENCH_DIR / ("consult_submit.lua" if env else "ping.lua"))
    cpu = server.cpu_seconds()
    result = run.wrk([*base, "-s", script, f"http://127.0.0.1:{server.port}{path}"], {**_wrk_env(args), **env},
                     args.wrk_threads, wait_for_threads=submit, timeout=seconds + 30)  # fmt: skip
    span = result["span_s"] if submit else result["duration_us"] / 1e6
    measured = Measured(
        rps=result["requests"] / span if span else 0.0,
        p50_ms=result["latency_us"]["p50"] / 1000,
        p99_ms=result["latency_us"]["p99"] / 1000,
        cpu_ms=1000 * (server.cpu_seconds() - cpu) / max(result["requests"], 1),
        statuses=result["statuses"],
        outcomes=result["outcomes"],
    )
    measured.errors = {k: v for k, v in result["errors"].items() if k != "status" and v}
    measured.socket_errors = sum(measured.errors.values())
    return measured


def _wrk_env(args):
    return {
        "BENCH_LUA_DIR": str(BENCH_DIR),
        "BENCH_WRK_THREADS": str(args.wrk_threads),
        "BENCH_KEEPALIVE": "1" if args.keepalive else "0",
    }


def page_size(port, path):
    client = run.Client(port)
    try:
        status, body = client.request("GET", path)
    finally:
        client.close()
    if status != 200:
        raise RuntimeError(f"GET {path}: HTTP {status}")
    return len(body)


def one_run(label, args, workdir, uri, seeded):
    result = RunResult(label)
    server = run.Server(workdir, uri)
    server.env["VOTING_RATELIMIT_OPINION_ADDRESS"] = ADDRESS_LIMIT
    submit_env = {
        "BENCH_MODE": "submit",
        "BENCH_DRAFT": str(seeded.draft_id),
        "BENCH_ARTICLES": ",".join(map(str, seeded.article_ids)),
        "BENCH_POINTS": ",".join(seeded.point_codes),
        "BENCH_COUNT": str(args.opinions),
    }
    page_path = f"/c/drafts/{seeded.draft_id}"
    with server:
        measure(server, args, {})  # warm both workers up
        result.ping = measure(server, args, {})
        result.submit = measure(server, args, submit_env)
        if not args.no_page:
            result.page_bytes = page_size(server.port, page_path)
            result.page = measure(server, args, {"BENCH_MODE": "page", "BENCH_PATH": page_path}, page_path)
    result.stored, result.contacts = counts(uri)
    return result


_HEADER = (
    f"{'run':<12} {'ping/s':>7} {'cpu ms':>6} {'submit/s':>8} {'p50 ms':>6} {'p99 ms':>6} {'cpu ms':>6} "
    f"{'ratio':>5} {'201':>6} {'stored':>6} {'exact':>5} {'page/s':>6} {'p99 ms':>6} {'cpu ms':>6}"
)


def print_row(r):
    page = r.page or Measured()
    print(
        f"{r.label:<12} {r.ping.rps:>7.0f} {r.ping.cpu_ms:>6.2f} {r.submit.rps:>8.0f} {r.submit.p50_ms:>6.0f} "
        f"{r.submit.p99_ms:>6.0f} {r.submit.cpu_ms:>6.2f} {r.ratio:>5.2f} {r.created:>6} {r.stored:>6} "
        f"{'yes' if r.exact else 'NO':>5} {page.rps:>6.0f} {page.p99_ms:>6.0f} {page.cpu_ms:>6.2f}",
        flush=True,
    )
    if not r.exact:
        print(f"{'':<12} submit statuses {r.submit.statuses}, answers {r.submit.outcomes}, "
              f"socket errors {r.submit.errors or 0}, stored {r.stored}")  # fmt: skip
    for name, measured in (("ping", r.ping), ("page", r.page)):
        if measured is not None and set(measured.statuses) != {"200"}:
            print(f"{'':<12} {name} statuses {measured.statuses}")


def summarize(label, results):
    med = statistics.median
    ratio = med([r.ratio for r in results])
    cpu_ratio = med([r.ping.cpu_ms for r in results]) / med([r.submit.cpu_ms for r in results])
    print(
        f"  {label}, median of {len(results)}: ping {med([r.ping.rps for r in results]):.0f}/s, "
        f"submit {med([r.submit.rps for r in results]):.0f}/s (p50 {med([r.submit.p50_ms for r in results]):.0f} ms, "
        f"p99 {med([r.submit.p99_ms for r in results]):.0f} ms), ratio {ratio:.2f}; server CPU per request: ping "
        f"{med([r.ping.cpu_ms for r in results]):.2f} ms, submit {med([r.submit.cpu_ms for r in results]):.2f} ms "
        f"(ratio {cpu_ratio:.2f})"
    )
    pages = [r for r in results if r.page is not None]
    if pages:
        print(
            f"  article page ({pages[0].page_bytes:,} bytes, {CHAPTERS * PER_CHAPTER} articles): "
            f"{med([r.page.rps for r in pages]):.0f}/s, p99 {med([r.page.p99_ms for r in pages]):.0f} ms, "
            f"server CPU {med([r.page.cpu_ms for r in pages]):.2f} ms per page"
        )
    return ratio


def fresh_postgres(url):
    from sqlalchemy import create_engine, text

    engine = create_engine(run.sqlalchemy_url(url))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return seed(run.sqlalchemy_url(url))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs on SQLite, each on a fresh database (at least 3)")
    parser.add_argument("--opinions", type=int, default=3000, help="submissions per run (default 3000)")
    parser.add_argument("--seconds", type=int, default=5, help="length of the ping and page measurements (default 5)")
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--keepalive", action="store_true",
        help="reuse each connection (default: one request per connection, as each phone opens its own)",
    )  # fmt: skip
    parser.add_argument("--no-page", action="store_true", help="skip the article page")
    parser.add_argument(
        "--postgres", metavar="URL", help="also as many runs on this PostgreSQL database (drops its public schema!)"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    runs = max(args.runs, 3)
    print(f"Machine: {run.machine()}", flush=True)
    print(
        f"Each run: a fresh server and database; {args.seconds} s of GET /api/v1/ping, {args.opinions} x POST "
        f"/api/v1/opinions, {args.seconds} s of GET /c/drafts/<id>; {args.connections} connections "
        f"({'keep-alive' if args.keepalive else 'one request per connection'}).\n",
        flush=True,
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="voting-bench-submit-") as tmp:
        workdir = Path(tmp)
        template = workdir / "template.db"
        seeded = seed(f"sqlite:///{template}")
        databases = []
        for index in range(runs):
            folder = workdir / f"run{index + 1}"
            folder.mkdir()
            shutil.copy(template, folder / "voting.db")
            databases.append((f"sqlite {index + 1}", f"sqlite:///{folder / 'voting.db'}", seeded))
        try:
            for group in ("sqlite", "postgresql"):
                if group == "postgresql":
                    if not args.postgres:
                        break
                    databases = [(f"postgresql {i + 1}", args.postgres, None) for i in range(runs)]
                print(_HEADER)
                print("-" * len(_HEADER))
                results = []
                for label, uri, group_seeded in databases:
                    group_seeded = group_seeded or fresh_postgres(uri)
                    results.append(one_run(label, args, workdir, uri, group_seeded))
                    print_row(results[-1])
                ratio = summarize(group, results)
                met = ratio >= RATIO_FLOOR and all(r.exact for r in results)
                print(f"  target: submissions >= {RATIO_FLOOR:.0%} of trivial throughput, every 201 stored once: "
                      f"{'met' if met else 'MISSED'} (load average now {os.getloadavg()[0]:.2f})\n")  # fmt: skip
                ok &= met
        finally:
            run._stop_everything()
    return 0 if ok else 1


if __name__ == "__main__":
    started = time.monotonic()
    status = main()
    print(f"Total time {time.monotonic() - started:.0f} s.")
    sys.exit(status)
