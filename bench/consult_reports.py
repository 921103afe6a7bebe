"""The opinion statistics and exports benchmark of docs/BENCHMARKS.md ("Opinion statistics and exports").

In-process: seeds a database (SQLite in a temporary directory; optionally PostgreSQL) with a
published draft of 60 articles in 6 chapters, the Yangpu-shaped contact-point network (1 district
point, 7 points, 24 collection points) and 300,000 opinions written with bulk inserts: skewed
over the articles (a few draw most), through every channel, a fifth merged into an earlier
opinion on the same article, a third of the rest decided, a quarter with contact details, a few
with phone numbers in the text. Then times, median of the runs:

- the statistics page (GET, signed in) and ``getDraftStats``: target <= 300 ms;
- the CSV of the raw opinions, streamed through the web route: target <= 3 s;
- the 意见建议汇总表 as XLSX, in a child process that reports its own peak RSS: target <= 20 s
  and <= 300 MB; the child's RSS right after start-up is printed too;
- once, the same XLSX through the background job the page uses (start, poll, done);
- with ``--pdf``, once, the PDF 汇总表 of every item in a child process, past the
  CONSULTATION_PDF_MAX_ITEMS cap the export applies (ten minutes for 240,000 items).

Prints the EXPLAIN plans of the statistics' GROUP BYs and exits 1 when a target is missed.
"""

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET_KEY = "bench-secret-key-" + "x" * 32
PASSWORD = "bench-password-1"
STATS_LIMIT_MS = 300
CSV_LIMIT_S = 3
XLSX_LIMIT_S = 20
XLSX_LIMIT_MB = 300
CHARS = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学"
    "法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外"
    "天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很"
    "情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她"
    "物业小区业主委员会停车电梯维修资金垃圾分类绿化噪声养老托育社区居民街道公共服务安全管理规定建议增加明确细化删除修改"
)


def draft_text(chapters=6, per_chapter=10):
    numbers = "一二三四五六七八九十"
    lines = ["上海市杨浦区住宅小区综合管理条例（草案征求意见稿）"]
    n = 0
    for c in range(chapters):
        lines.append(f"第{numbers[c]}章 第{c + 1}部分规定")
        for _ in range(per_chapter):
            n += 1
            lines.append(
                f"第{_cn(n)}条 为了加强住宅小区管理，规范第{n}项事务，维护业主和物业服务企业的合法权益，制定本条。"
            )
            lines.append("物业服务企业应当按照合同约定提供服务，接受业主和业主委员会的监督。")
    return "\n".join(lines)


def _cn(n):
    from voting.consultations.splitter import chinese_number

    return chinese_number(n)


def seed(uri, opinions, rng):
    """Migrate; add the network, a published draft and ``opinions`` opinions by bulk insert; return (app, ids)."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, text

    from voting import create_app
    from voting.accounts.operations import create_api_token, create_user
    from voting.consultations import operations as ops
    from voting.consultations.models import Opinion, OpinionContact
    from voting.extensions import db
    from voting.timeutil import utcnow

    # No CSRF: the benchmark signs in with a plain form post; it measures reading, not the form checks.
    config = {"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": SECRET_KEY, "RATELIMIT_ENABLED": False}
    app = create_app({**config, "WTF_CSRF_ENABLED": False})
    with app.app_context():
        upgrade()
        organizer, _ = create_user(None, "bench", "Benchmark organizer", "organizer", password=PASSWORD,
                                   must_change_password=False)  # fmt: skip
        token = create_api_token(None, organizer, "benchmark")
        district = ops.create_contact_point(organizer, "杨浦区人大常委会基层立法联系点", "district")
        points = [district]
        for p in range(7):
            point = ops.create_contact_point(organizer, f"第{p + 1}街道基层立法联系点", "point", district)
            points.append(point)
            for c in range(24 // 7 + (1 if p < 24 % 7 else 0)):
                points.append(ops.create_contact_point(organizer, f"第{p + 1}街道第{c + 1}采集点", "collection", point))
        draft, _ = ops.create_draft(organizer, draft_text())
        ops.publish_draft(organizer, draft)
        db.session.commit()
        articles = [a.id for a in draft.articles]
        point_ids = [p.id for p in points]
        first_id = (db.session.scalar(text("SELECT max(id) FROM opinion")) or 0) + 1
        started = utcnow() - timedelta(days=30)
        pool = ["".join(rng.choice(CHARS) for _ in range(rng.randint(20, 300))) for _ in range(3000)]
        # Zipf-like: article k draws in proportion to 1/(k+1); 5% are on the draft as a whole.
        weights = [1 / (k + 1) for k in range(len(articles))]
        rng.shuffle(weights)
        open_items = {}  # article -> recent ids of items not merged, to merge into
        people = {}
        rows, contacts = [], []
        for n in range(opinions):
            oid = first_id + n
            article = None if rng.random() < 0.05 else rng.choices(articles, weights)[0]
            roll = rng.random()
            if roll < 0.55:
                channel, submitter, point = "poster", "resident", rng.choice(point_ids)
            elif roll < 0.85:
                channel, submitter, point = "link", "resident", None
            elif roll < 0.90:
                channel, submitter, point = "deputy", "deputy", None
            else:
                channel, submitter, point = "import", "staff", rng.choice(point_ids)
            body = pool[n % len(pool)]
            if n % 50 == 0:  # 2% give a phone number in the text, to be masked
                body += "联系电话13812345678"
            row = {
                "id": oid, "draft_id": draft.id, "article_id": article, "text": body, "submitter_type": submitter,
                "channel": channel, "contact_point_id": point, "deputy_id": None,
                "tracking_code": f"B{oid:09d}", "status": "received", "merged_into_id": None,
                "people_count": rng.randint(2, 6) if channel == "import" and rng.random() < 0.3 else 1,
                "legal_text": None, "reason": None, "reply": None,
                "created_at": started + timedelta(seconds=n * 8), "handled_at": None,
            }  # fmt: skip
            candidates = open_items.setdefault(article, [])
            if candidates and rng.random() < 0.2:
                target = rng.choice(candidates)
                row["status"], row["merged_into_id"] = "merged", target
                people[target] = people.get(target, 0) + row["people_count"]
            else:
                candidates.append(oid)
                if len(candidates) > 200:
                    candidates.pop(0)
            rows.append(row)
            if rng.random() < 0.25:
                contacts.append({"opinion_id": oid, "name": "张三", "phone": f"139{n:08d}"[:11],
                                 "created_at": row["created_at"]})  # fmt: skip
        by_id = {row["id"]: row for row in rows}
        for target, extra in people.items():
            by_id[target]["people_count"] += extra
        for row in rows:
            if row["status"] == "received" and rng.random() < 0.33:
                row["status"] = rng.choice(["adopted", "partly_adopted", "not_adopted"])
                row["handled_at"] = row["created_at"] + timedelta(days=3)
                row["reason"] = "符合上位法规定" if row["status"] != "not_adopted" else "与上位法不一致"
                row["reply"] = "感谢您的意见，已研究处理。"
        for start in range(0, len(rows), 10000):
            db.session.execute(insert(Opinion), rows[start : start + 10000])
        for start in range(0, len(contacts), 10000):
            db.session.execute(insert(OpinionContact), contacts[start : start + 10000])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SELECT setval('opinion_id_seq', (SELECT max(id) FROM opinion))"))
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE opinion"))
                conn.execute(text("VACUUM ANALYZE opinion_contact"))
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        ids = {"draft": draft.id, "token": token, "items": sum(1 for r in rows if r["status"] != "merged")}
        db.session.remove()
    return app, ids


def timed(function, runs):
    """Run ``function`` ``runs`` times; return (wall ms, CPU ms) lists (CPU: this process's own)."""
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def explain(app, draft_id):
    """The plans of the statistics' three GROUP BYs."""
    from sqlalchemy import func, select, text

    from voting.consultations.models import Opinion as O
    from voting.extensions import db

    with app.app_context():
        dialect = db.engine.dialect
        prefix = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN "
        for columns in ([O.article_id], [O.contact_point_id], [O.channel, O.submitter_type]):
            query = (
                select(*columns, O.status, func.count(), func.sum(O.people_count))
                .where(O.draft_id == draft_id)
                .group_by(*columns, O.status)
            )
            sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})).replace("\n", " ")
            plan = [" ".join(str(c) for c in row[-1:]) for row in db.session.execute(text(prefix + sql))]
            print(f"  GROUP BY {', '.join(c.key for c in columns)}, status:")
            for line in plan:
                print(f"      {line}")
        db.session.remove()


def peak_rss_mb():
    """This process's peak resident memory (VmHWM). Not ru_maxrss: Linux carries that across exec, so a child
    started by a big parent would report the parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(fmt, uri, draft_id, out):
    """In a fresh process: write one export and report seconds, CPU seconds and peak RSS (MB) as JSON."""
    from voting import create_app
    from voting.consultations import exports
    from voting.consultations.models import Draft
    from voting.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": SECRET_KEY})
    with app.app_context():
        draft = db.session.get(Draft, draft_id)
        idle = peak_rss_mb()
        started, started_cpu = time.perf_counter(), time.process_time()
        exports.WRITERS[fmt](draft, out)
        seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    peak = peak_rss_mb()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak, "idle_mb": idle, "bytes": os.path.getsize(out)}))


def run_child(fmt, uri, draft_id, folder):
    out = Path(folder) / f"export.{fmt}"
    result = subprocess.run(
        [sys.executable, __file__, "--child", fmt, "--uri", uri, "--draft", str(draft_id), "--out", str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(label, app, ids, runs, uri, folder, pdf):
    """Time each step; return rows of (step, median, slowest, median CPU, unit, extra)."""
    from sqlalchemy import text as sql_text

    from voting.consultations import stats
    from voting.consultations.models import Draft
    from voting.extensions import db

    rows = []
    draft_id = ids["draft"]
    client = app.test_client()
    response = client.post("/login", data={"username": "bench", "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    headers = {"Authorization": f"Bearer {ids['token']}"}

    def add(name, times, unit="ms", extra=""):
        wall, cpu = times
        rows.append((name, statistics.median(wall), max(wall), statistics.median(cpu), unit, extra))

    with app.app_context():
        draft = db.session.get(Draft, draft_id)
        figures = stats.draft_stats(draft)
        total = figures.total
        print(f"{label}: {total.opinions:,} opinions, {total.people:,} people, {figures.items:,} items, "
              f"{figures.merged:,} merged, adoption rate {figures.adoption.rate:.3f}", flush=True)  # fmt: skip
        add("draft_stats() alone", timed(lambda: stats.draft_stats(db.session.get(Draft, draft_id)), runs))
        db.session.remove()

    def get(path, **kwargs):
        def fetch():
            response = client.get(path, **kwargs)
            assert response.status_code == 200, (path, response.status_code)
            fetch.size = len(response.data)

        return fetch

    page = get(f"/consultations/drafts/{draft_id}/report")
    page()  # warm: templates compiled, session touched
    add("statistics page (GET, signed in)", timed(page, runs), extra=f"{page.size:,} bytes")
    api = get(f"/api/v1/drafts/{draft_id}/stats", headers=headers)
    add("API getDraftStats", timed(api, runs), extra=f"{api.size:,} bytes")
    csv_fetch = get(f"/consultations/drafts/{draft_id}/report/opinions.csv", buffered=True)

    def read_rows():
        # The baseline for the CSV, measured alongside it: the same rows read through the bare driver and
        # dropped, which no export can beat. It tells how fast the machine is at the moment.
        with app.app_context():
            result = db.session.connection().execute(sql_text(
                "SELECT tracking_code, created_at, article_id, coalesce(masked_text, text), submitter_type, channel,"
                " contact_point_id, status, merged_into_id, people_count FROM opinion WHERE draft_id = :draft"
                " ORDER BY id"
            ), {"draft": draft_id})  # fmt: skip
            for _ in result:
                pass
            db.session.remove()

    baseline, csv_times = ([], []), ([], [])
    for _ in range(runs):  # alternated, so both see the same machine
        for times, step in ((baseline, read_rows), (csv_times, csv_fetch)):
            wall, cpu = timed(step, 1)
            times[0].append(wall[0] / 1000)
            times[1].append(cpu[0] / 1000)
    add("baseline: the rows read by the driver", baseline, "s")
    ratio = statistics.median(csv_times[0]) / statistics.median(baseline[0])
    add("CSV of raw opinions (streamed route)", csv_times, "s",
        f"{csv_fetch.size / 1e6:.1f} MB; {ratio:.1f} times the baseline")  # fmt: skip

    xlsx = [run_child("xlsx", uri, draft_id, folder) for _ in range(runs)]
    add("XLSX 汇总表 (child process)", ([r["seconds"] for r in xlsx], [r["cpu"] for r in xlsx]), "s",
        f"{xlsx[0]['bytes'] / 1e6:.1f} MB; peak RSS {max(r['peak_mb'] for r in xlsx):.0f} MB "
        f"(after start-up {xlsx[0]['idle_mb']:.0f} MB)")  # fmt: skip
    rows[-1] = (*rows[-1], max(r["peak_mb"] for r in xlsx))

    # The page's own path once: start the background job, poll its state file, done.
    started = time.perf_counter()
    job = client.post(f"/api/v1/drafts/{draft_id}/exports", json={"format": "xlsx"}, headers=headers).json
    polls = 0
    while (state := client.get(job["status_url"], headers=headers).json)["state"] not in ("done", "failed"):
        polls += 1
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    assert state["state"] == "done", state
    add("XLSX through the background job (once)", ([elapsed], [float("nan")]), "s", f"{polls} polls of status")
    if pdf:
        result = run_child("pdf", uri, draft_id, folder)
        add("PDF 汇总表 (child process, once)", ([result["seconds"]], [result["cpu"]]), "s",
            f"{result['bytes'] / 1e6:.1f} MB; peak RSS {result['peak_mb']:.0f} MB")  # fmt: skip
    return rows


def print_rows(label, rows, runs):
    print(f"\n{label} (median and slowest of {runs} runs; CPU: the measuring process's CPU time, median)")
    print(f"  {'step':<40} {'median':>9} {'slowest':>9} {'CPU':>9}  notes")
    for name, median, slowest, cpu, unit, extra, *_ in rows:
        print(f"  {name:<40} {median:>7.2f}{unit:>2} {slowest:>7.2f}{unit:>2} {cpu:>7.2f}{unit:>2}  {extra}")


def check(rows):
    found = {row[0]: row for row in rows}
    targets = [
        ("statistics page <= 300 ms", found["statistics page (GET, signed in)"][1], STATS_LIMIT_MS, "ms"),
        ("getDraftStats <= 300 ms", found["API getDraftStats"][1], STATS_LIMIT_MS, "ms"),
        ("CSV of 300,000 opinions <= 3 s", found["CSV of raw opinions (streamed route)"][1], CSV_LIMIT_S, "s"),
        ("XLSX of 300,000 opinions <= 20 s", found["XLSX 汇总表 (child process)"][1], XLSX_LIMIT_S, "s"),
        ("XLSX peak memory <= 300 MB", found["XLSX 汇总表 (child process)"][6], XLSX_LIMIT_MB, "MB"),
    ]
    ok = True
    for name, value, limit, unit in targets:
        met = value <= limit
        ok &= met
        print(f"  {name:<36} {value:>9.2f} {unit:<3} {'met' if met else 'MISSED'}")
    return ok


def fresh_postgres(url):
    """Empty the PostgreSQL database's public schema (everything in it is dropped!)."""
    from sqlalchemy import create_engine, text

    url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each step (default and minimum 3)")
    parser.add_argument("--opinions", type=int, default=300_000)
    parser.add_argument("--pdf", action="store_true", help="also build the whole PDF 汇总表 once (ten minutes)")
    parser.add_argument(
        "--postgres", metavar="URL", help="also run on this PostgreSQL database (its public schema is dropped!)"
    )
    parser.add_argument("--child", choices=["xlsx", "pdf", "csv"], help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--draft", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.uri, args.draft, args.out)
        return 0
    runs = max(args.runs, 3)
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="voting-bench-consult-") as tmp:
        databases = [("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}")]
        if args.postgres:
            databases.append(("postgresql", fresh_postgres(args.postgres)))
        for label, uri in databases:
            started = time.monotonic()
            app, ids = seed(uri, args.opinions, random.Random(2027))
            app.instance_path = str(Path(tmp) / f"instance-{label}")
            print(f"{label}: seeded {args.opinions:,} opinions in {time.monotonic() - started:.1f} s", flush=True)
            explain(app, ids["draft"])
            rows = measure(label, app, ids, runs, uri, tmp, args.pdf)
            print_rows(label, rows, runs)
            ok &= check(rows)
            print(f"  (load average now {os.getloadavg()[0]:.1f})")
            with app.app_context():
                from voting.extensions import db

                db.engine.dispose()
    print("\nAll targets met." if ok else "\nTARGET MISSED.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
