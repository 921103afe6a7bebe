"""The contact-point network beyond creating points: find, rename, retire and bring back, walk a subtree.

Operations flush and write the organizer's action to the audit log; they never commit. A
retired point keeps its row and its code: opinions already attributed to it stay attributed,
and a resident who scans its old poster still gets to comment, unattributed (DOMAIN.md D).
"""

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from voting.audit.operations import actor_label, record
from voting.consultations.models import ContactPoint
from voting.consultations.operations import MAX_ADDRESS, MAX_POINT_NAME, list_contact_points
from voting.errors import Conflict, Invalid, NotFound
from voting.extensions import db


def get_contact_point(point_id):
    """Return the contact point with ``point_id`` or raise NotFound."""
    point = db.session.get(ContactPoint, point_id) if isinstance(point_id, int) else None
    if point is None:
        raise NotFound(_l("No such contact point."), code="contact_point_not_found")
    return point


def tree():
    """Return the whole network as (point, depth) pairs, parents before children, siblings by name."""
    depth = {}
    rows = []
    for point in list_contact_points():
        depth[point.id] = depth.get(point.parent_id, -1) + 1
        rows.append((point, depth[point.id]))
    return rows


def subtree(point):
    """Return ``point`` and every point below it, parents before children, siblings by name."""
    inside = {point.id}
    found = []
    for candidate in list_contact_points():  # ordered parents first, so one pass collects the subtree
        if candidate.id in inside or candidate.parent_id in inside:
            inside.add(candidate.id)
            found.append(candidate)
    return found


def update_contact_point(actor, point, *, name=None, address=None):
    """Rename a point or change its address; names stay unique among the points of one parent."""
    changed = {}
    if name is not None:
        name = " ".join(name.split())
        if not 1 <= len(name) <= MAX_POINT_NAME:
            raise Invalid(_l("A name of 1 to 200 characters is required."), code="invalid_name")
        if name != point.name:
            changed["name"] = name
    if address is not None:
        address = " ".join(address.split())
        if len(address) > MAX_ADDRESS:
            message = _l("The address is longer than %(max)s characters.", max=MAX_ADDRESS)
            raise Invalid(message, code="invalid_address")
        if address != point.address:
            changed["address"] = address
    if not changed:
        return point
    try:
        with db.session.begin_nested():
            for field, value in changed.items():
                setattr(point, field, value)
            db.session.flush()
    except IntegrityError:
        db.session.refresh(point)
        raise Conflict(
            _l("There is already a point called “%(name)s” here.", name=changed["name"]), code="duplicate_point"
        ) from None
    record(actor_label(actor), "contact_point.update", "contact_point", point.id, **changed)
    return point


def set_contact_point_active(actor, point, active):
    """Retire a point and every point below it, or bring one point back (its parent must be active).

    Return the points whose state changed. A retired point's poster still opens the drafts,
    but new opinions through it are attributed to no point.
    """
    if active:
        if point.parent is not None and not point.parent.active:
            raise Conflict(
                _l("“%(parent)s” is retired: bring it back first.", parent=point.parent.name),
                code="parent_inactive",
            )
        changed = [point] if not point.active else []
    else:
        changed = [p for p in subtree(point) if p.active]
    for each in changed:
        each.active = active
    db.session.flush()
    if changed:
        action = "contact_point.activate" if active else "contact_point.deactivate"
        record(actor_label(actor), action, "contact_point", point.id, points=[p.id for p in changed])
    return changed


def district_point():
    """Return the district contact point at the top of the network, or None before it is set up."""
    return db.session.scalars(
        select(ContactPoint).where(ContactPoint.parent_id.is_(None)).order_by(ContactPoint.id).limit(1)
    ).first()
