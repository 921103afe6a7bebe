"""Prepare a benchmark database in-process, through the app's own operations."""

from dataclasses import dataclass

BURST_PREFIX = "B"
PROBE_PREFIX = "P"


@dataclass(frozen=True)
class Seeded:
    meeting_id: int
    burst_tokens: list  # device tokens of the deputies who sign in all at once
    probe_tokens: list  # device tokens kept apart, to time the big screen one sign-in at a time
    organizer_username: str
    organizer_password: str
    organizer_api_token: str


def seed(database_uri, secret_key, deputies, probes, password):
    """Migrate, then add deputies with bound phones, an organizer, and one meeting with sign-in open."""
    from flask_migrate import upgrade

    from voting import create_app
    from voting.accounts.models import User
    from voting.accounts.operations import create_api_token, create_user
    from voting.deputies.models import Deputy
    from voting.deputies.operations import activate, issue_activation_codes
    from voting.extensions import db
    from voting.meetings.operations import create_meeting, open_sign_in

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "SECRET_KEY": secret_key})
    with app.app_context():
        upgrade()
        organizer, _ = create_user(
            None, "bench", "Benchmark organizer", "organizer", password=password, must_change_password=False
        )
        organizer_id = organizer.id
        api_token = create_api_token(None, organizer, "benchmark")
        numbers = [f"{BURST_PREFIX}{i:05d}" for i in range(1, deputies + 1)]
        numbers += [f"{PROBE_PREFIX}{i:05d}" for i in range(1, probes + 1)]
        db.session.add_all(
            Deputy(number=number, name=f"代表{number}", delegation=f"第{i % 30 + 1}代表团")
            for i, number in enumerate(numbers)
        )
        db.session.flush()
        # One batch of cards, then every phone binds with its card, as deputies do in the hall.
        cards = [(deputy.number, code) for deputy, code in issue_activation_codes(organizer, "all")]
        tokens = {}
        for number, code in cards:
            # Keep the session small: an ORM UPDATE scans every object the session holds.
            db.session.expunge_all()
            tokens[number] = activate(code, "bench")[1]
        meeting = create_meeting(db.session.get(User, organizer_id), "基准测试会议")
        open_sign_in(db.session.get(User, organizer_id), meeting)
        db.session.commit()
        seeded = Seeded(
            meeting_id=meeting.id,
            burst_tokens=[tokens[n] for n in numbers if n.startswith(BURST_PREFIX)],
            probe_tokens=[tokens[n] for n in numbers if n.startswith(PROBE_PREFIX)],
            organizer_username="bench",
            organizer_password=password,
            organizer_api_token=api_token,
        )
        db.session.remove()
        db.engine.dispose()
    return seeded


def burst_present(database_uri, meeting_id):
    """Return how many of the burst's deputies the database has signed in to the meeting."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_uri)
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT COUNT(*) FROM meeting_member m JOIN deputy d ON d.id = m.deputy_id"
                    " WHERE m.meeting_id = :meeting AND d.number LIKE :burst AND m.checked_in_at IS NOT NULL"
                ),
                {"meeting": meeting_id, "burst": BURST_PREFIX + "%"},
            ).scalar_one()
    finally:
        engine.dispose()
