"""The registry commits an operation's session only when it has something to commit."""

from sqlalchemy import func, select

from voting.api.registry import _commit
from voting.deputies.models import Deputy
from voting.extensions import db


def _deputies():
    with db.engine.connect() as connection:  # another connection: sees only what was committed
        return connection.execute(select(func.count()).select_from(Deputy)).scalar()


def test_no_session_is_made_when_the_operation_used_none(app):
    db.session.remove()
    _commit()
    assert not db.session.registry.has()


def test_an_added_object_is_committed(app):
    db.session.remove()
    db.session.add(Deputy(number="R0001", name="代表", delegation="第1代表团"))
    _commit()
    assert _deputies() == 1


def test_a_changed_object_is_committed_after_an_earlier_commit(app):
    db.session.remove()
    deputy = Deputy(number="R0002", name="代表", delegation="第1代表团")
    db.session.add(deputy)
    db.session.commit()
    deputy.name = "改名"
    _commit()
    db.session.remove()
    assert db.session.scalar(select(Deputy.name).where(Deputy.number == "R0002")) == "改名"


def test_a_query_ends_its_transaction(app):
    db.session.remove()
    db.session.scalar(select(func.count()).select_from(Deputy))
    assert db.session().in_transaction()
    _commit()
    assert not db.session().in_transaction()
