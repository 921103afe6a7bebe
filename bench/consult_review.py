"""The opinion import and duplicate-suggestion benchmark of docs/BENCHMARKS.md
("Opinion import and duplicate suggestions").

In-process: migrates a database (SQLite in a temporary directory, or the PostgreSQL database
given with --postgres, which must be an empty database made for the benchmark: its schema is
dropped), adds a published draft of 60 articles and a contact point, and writes a meeting sheet
of 300,000 opinions as staff write them (条款, 意见内容, 提出人, 联系电话, 人数) as .csv and .xlsx.
The opinions are shaped like a national consultation's: 20% copies of five campaign texts with
small edits and signatures, 5% one-word agreements (同意, 支持) on the whole draft, the rest
distinct opinions built from the vocabulary of a property-management regulation.

Then it times, each run on a fresh session and an empty opinion table: the import (parse, check,
write, commit) of each format; and, over the imported opinions, the duplicate suggestions for
the whole draft (``review.suggest_duplicates``). Prints each run, the median, and exits 1 when
a target of issue 4 is missed: import <= 60 s, suggestions <= 120 s.
"""

import argparse
import csv
import io
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET_KEY = "bench-secret-key-" + "x" * 32
IMPORT_LIMIT_S = 60
SUGGEST_LIMIT_S = 120
ARTICLES = 60

SUBJECTS = ["物业服务企业", "业主委员会", "业主大会", "街道办事处", "居民委员会", "建设单位", "房屋管理部门",
            "物业公司", "开发商", "区政府"]  # fmt: skip
VERBS = ["应当公示", "应当定期公开", "应当书面告知", "不得擅自改变", "应当及时维修", "应当听取", "应当报告",
         "应当建立", "应当承担", "应当配合"]  # fmt: skip
OBJECTS = ["公共收益收支情况", "维修资金使用情况", "物业服务收费标准", "电梯维护保养记录", "停车位租售方案",
           "小区绿化改造计划", "垃圾分类设施设置", "消防通道管理措施", "装修管理规定", "业主投诉处理结果",
           "电动自行车充电设施", "外墙维修方案"]  # fmt: skip
TAILS = ["，接受业主监督。", "，建议明确具体期限。", "，否则应当承担相应责任。", "，并报街道备案。", "，建议增加罚则。",
         "。", "，具体办法由区政府另行规定。", "，保障业主知情权。"]  # fmt: skip
OPENERS = ["建议", "我认为", "建议本条明确", "希望", "", "本条应规定", "建议修改为"]
SIGNATURES = ["", "", "", "——3号楼业主", "（阳光小区居民）", "，望采纳！", "，谢谢！", "。我是退休教师"]
CAMPAIGNS = [
    "坚决反对在我们小区旁边建设垃圾中转站，严重影响居民生活和身体健康，请求政府重新选址！",
    "强烈要求物业公司每半年公示一次公共收益收支情况，接受全体业主监督，保障业主的知情权和监督权。",
    "建议第二十条增加规定：业主委员会委员应当每年向业主大会报告履职情况，并接受业主质询。",
    "电动自行车不得在楼道内停放和充电，建议小区统一建设集中充电设施，费用由公共收益承担。",
    "物业费调整必须经业主大会表决通过，物业公司不能单方面涨价，请人大代表为我们做主！",
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"


def _unique_text(rng):
    parts = [rng.choice(OPENERS), rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)]
    if rng.random() < 0.5:
        parts += ["和", rng.choice(OBJECTS)]
    parts.append(rng.choice(TAILS))
    if rng.random() < 0.5:
        parts += [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(TAILS)]
    return "".join(parts)


def _edited(rng, text):
    chars = list(text)
    for _ in range(rng.randint(0, 3)):
        position = rng.randrange(len(chars))
        roll = rng.random()
        if roll < 0.4:
            del chars[position]
        elif roll < 0.7:
            chars.insert(position, rng.choice("的了呢啊，。！"))
        else:
            chars[position] = rng.choice("，。！ ")
    return "".join(chars) + rng.choice(SIGNATURES)


def sheet_rows(count, rng):
    """Rows of a meeting sheet: (条款, 意见内容, 提出人, 联系电话, 人数)."""
    rows = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.2:
            campaign = rng.randrange(len(CAMPAIGNS))
            article, text = f"第{10 + campaign}条", _edited(rng, CAMPAIGNS[campaign])
        elif roll < 0.25:
            article, text = "总体", rng.choice(["同意", "支持", "同意。", "无意见", "赞成本草案"])
        else:
            article, text = str(rng.randint(1, ARTICLES)), _unique_text(rng)
        named = rng.random() < 0.3
        rows.append((
            article,
            text,
            rng.choice(SURNAMES) + rng.choice("伟芳娜敏静丽强磊军洋") if named else "",
            f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}" if named else "",
            str(rng.randint(2, 30)) if rng.random() < 0.05 else "",
        ))  # fmt: skip
    return rows


HEADER = ("条款", "意见内容", "提出人", "联系电话", "人数")


def as_csv(rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def as_xlsx(rows):
    import xlsxwriter

    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"strings_to_formulas": False, "strings_to_numbers": False})
    sheet = workbook.add_worksheet("征询会意见")
    sheet.write_row(0, 0, HEADER)
    for index, row in enumerate(rows, start=1):
        sheet.write_row(index, 0, row)
    workbook.close()
    return out.getvalue()


def draft_text():
    lines = ["某区住宅小区物业管理若干规定（草案征求意见稿）"]
    from voting.consultations.splitter import chinese_number

    for number in range(1, ARTICLES + 1):
        lines.append(f"第{chinese_number(number)}条 物业服务企业应当按照本规定第{number}项要求履行相应义务。")
    return "\n".join(lines)


def seed(uri):
    """Migrate, then add an organizer, a published draft and a contact point; return (app, ids)."""
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text

    from voting import create_app
    from voting.accounts.operations import create_user
    from voting.consultations import operations as ops
    from voting.extensions import db

    if uri.startswith("postgresql"):
        engine = create_engine(uri)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": SECRET_KEY, "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        organizer, _ = create_user(None, "bench", "Benchmark organizer", "organizer", password="bench-password-1")
        draft, _ = ops.create_draft(organizer, draft_text())
        ops.publish_draft(organizer, draft)
        district = ops.create_contact_point(organizer, "区人大常委会基层立法联系点", "district")
        point = ops.create_contact_point(organizer, "殷行街道基层立法联系点", "point", district)
        db.session.commit()
        return app, (organizer.id, draft.id, point.id)


def empty_opinions():
    from sqlalchemy import delete

    from voting.consultations.models import Opinion, OpinionContact
    from voting.extensions import db

    db.session.execute(delete(OpinionContact))
    db.session.execute(delete(Opinion))
    db.session.commit()


def time_import(app, ids, filename, data):
    from voting.accounts.models import User
    from voting.consultations import imports
    from voting.consultations.models import ContactPoint, Draft
    from voting.extensions import db

    organizer_id, draft_id, point_id = ids
    with app.app_context():
        empty_opinions()
        db.session.remove()
    with app.app_context():
        actor, draft, point = (
            db.session.get(User, organizer_id),
            db.session.get(Draft, draft_id),
            db.session.get(ContactPoint, point_id),
        )
        started, cpu = time.perf_counter(), time.process_time()
        result = imports.import_opinions(actor, draft, point, filename, data)
        db.session.commit()
        elapsed = time.perf_counter() - started
        result["cpu"] = time.process_time() - cpu
        db.session.remove()
    return elapsed, result


def time_suggestions(app, ids):
    from voting.consultations import review
    from voting.consultations.models import Draft
    from voting.extensions import db

    with app.app_context():
        draft = db.session.get(Draft, ids[1])
        started, cpu = time.perf_counter(), time.process_time()
        found = review.suggest_duplicates(draft, limit=100, members_shown=1)
        elapsed = time.perf_counter() - started
        found.cpu = time.process_time() - cpu
        db.session.remove()
    return elapsed, found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", default="csv,xlsx", help="csv, xlsx or both (csv,xlsx)")
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database made for the benchmark")
    parser.add_argument("--seed", type=int, default=20270301)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        uri = args.postgres or f"sqlite:///{os.path.join(tmp, 'bench.db')}"
        if uri.startswith("postgres"):
            uri = "postgresql+psycopg://" + uri.split("://", 1)[1]
        database = "PostgreSQL" if args.postgres else "SQLite"
        print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
              f"load {os.getloadavg()[0]:.1f}; {database}; {args.rows} opinions, {args.runs} runs")  # fmt: skip
        started = time.perf_counter()
        rows = sheet_rows(args.rows, rng)
        app, ids = seed(uri)
        files = {}
        for fmt in args.formats.split(","):
            files[fmt] = (f"征询会意见.{fmt}", as_csv(rows) if fmt == "csv" else as_xlsx(rows))
            print(f"  {fmt}: {len(files[fmt][1]) / 1e6:.1f} MB")
        print(f"  setup {time.perf_counter() - started:.0f} s")
        failed = False
        for fmt, (filename, data) in files.items():
            times = []
            for run in range(args.runs):
                elapsed, result = time_import(app, ids, filename, data)
                times.append(elapsed)
                print(f"  import {fmt} run {run + 1}: {elapsed:.1f} s, {result['cpu']:.1f} s CPU in this process "
                      f"(load {os.getloadavg()[0]:.1f}; {result['opinions']} opinions, "
                      f"{result['people']} people, {result['contacts']} with contact details)")  # fmt: skip
            median = statistics.median(times)
            verdict = "ok" if median <= IMPORT_LIMIT_S else "MISSED"
            failed |= median > IMPORT_LIMIT_S
            print(f"import {fmt}: median {median:.1f} s, slowest {max(times):.1f} s "
                  f"(target <= {IMPORT_LIMIT_S} s: {verdict})")  # fmt: skip
        times = []
        for run in range(args.runs):
            elapsed, found = time_suggestions(app, ids)
            times.append(elapsed)
            campaigns = [g for g in found.groups if g.campaign]
            print(f"  suggestions run {run + 1}: {elapsed:.1f} s, {found.cpu:.1f} s CPU in this process "
                  f"(load {os.getloadavg()[0]:.1f}; {found.compared} opinions, "
                  f"{len(found.groups)} largest groups kept, {len(campaigns)} campaigns, largest "
                  f"{found.groups[0].size if found.groups else 0})")  # fmt: skip
        median = statistics.median(times)
        verdict = "ok" if median <= SUGGEST_LIMIT_S else "MISSED"
        failed |= median > SUGGEST_LIMIT_S
        print(f"duplicate suggestions: median {median:.1f} s, slowest {max(times):.1f} s "
              f"(target <= {SUGGEST_LIMIT_S} s: {verdict})")  # fmt: skip
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
        with app.app_context():
            from voting.extensions import db

            db.engine.dispose()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
