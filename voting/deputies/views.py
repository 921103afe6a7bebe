"""Roster pages for organizers; activation pages for deputies' phones."""

from flask import Blueprint, current_app, flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from voting.auth import current_deputy_device, roles_required
from voting.ballots.booth_views import meetings_signed_in
from voting.deputies import operations
from voting.deputies.forms import ActivationForm, DeputyForm, ImportForm
from voting.errors import DomainError, Invalid
from voting.extensions import db, limiter
from voting.tokens import normalize_activation_code
from voting.urls import public_url

bp = Blueprint("deputies", __name__)
PAGE_SIZE = 100


@bp.get("/deputies")
@roles_required()
def index():
    page = max(request.args.get("page", 1, type=int), 1)
    search = request.args.get("q", "").strip()[:100]
    delegation = request.args.get("delegation", "").strip()[:100]
    rows, total = operations.list_deputies(search, delegation, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    return render_template(
        "deputies/index.html",
        deputies=rows,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        search=search,
        delegation=delegation,
        delegations=operations.delegations(),
    )


@bp.route("/deputies/import", methods=["GET", "POST"])
@roles_required()
def import_roster():
    form = ImportForm()
    if request.method == "GET":
        return render_template("deputies/import.html", form=form)
    wants_json = request.accept_mimetypes.best == "application/json"
    if not form.validate_on_submit():
        raise Invalid(_("Choose a file to upload."), code="file_required")
    upload = form.file.data
    try:
        result = operations.import_roster(current_user, upload.filename, upload.read())
    except DomainError as error:
        if wants_json:
            raise
        return render_template("deputies/import.html", form=form, error=error), error.status
    db.session.commit()
    message = _("Imported %(rows)s rows: %(created)s new, %(updated)s updated, %(unchanged)s unchanged.", **result)
    if wants_json:
        return jsonify({"message": message, **result, "redirect": url_for("deputies.index")})
    flash(message, "success")
    return redirect(url_for("deputies.index"))


@bp.route("/deputies/new", methods=["GET", "POST"], defaults={"deputy_id": None})
@bp.route("/deputies/<int:deputy_id>", methods=["GET", "POST"])
@roles_required()
def edit(deputy_id):
    deputy = operations.get_deputy(deputy_id) if deputy_id else None
    form = DeputyForm(obj=deputy)
    if form.validate_on_submit():
        try:
            deputy = operations.save_deputy(
                current_user,
                deputy,
                form.number.data,
                form.name.data,
                form.delegation.data,
                form.phone.data,
                form.active.data,
            )
        except DomainError as error:
            form.form_errors.append(str(error.message))
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("deputies.edit", deputy_id=deputy.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("deputies/edit.html", form=form, deputy=deputy), status


@bp.post("/deputies/<int:deputy_id>/activation-code")
@roles_required()
def issue_card(deputy_id):
    deputy = operations.get_deputy(deputy_id)
    code = operations.issue_activation_code(current_user, deputy)
    db.session.commit()
    response = make_response(
        render_template("deputies/card.html", deputy=deputy, code=code, url=public_url("deputies.activate", code=code))
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/deputies/<int:deputy_id>/revoke-devices")
@roles_required()
def revoke_devices(deputy_id):
    count = operations.revoke_devices(current_user, operations.get_deputy(deputy_id))
    db.session.commit()
    flash(ngettext("%(num)s phone unbound.", "%(num)s phones unbound.", count), "success")
    return redirect(url_for("deputies.edit", deputy_id=deputy_id))


@bp.route("/deputies/cards", methods=["GET", "POST"])
@roles_required()
def cards():
    if request.method == "GET":
        return render_template("deputies/cards.html")
    from voting.deputies.cards import build_activation_cards

    scope = request.form.get("scope", "missing")
    issued = operations.issue_activation_codes(current_user, scope)
    if not issued:
        flash(
            _("Every active deputy already has a card or a bound phone. Choose “Everyone” to re-issue every card."),
            "info",
        )
        return redirect(url_for("deputies.cards"))
    pdf = build_activation_cards(
        [
            {
                "name": d.name,
                "number": d.number,
                "delegation": d.delegation,
                "code": code,
                "url": public_url("deputies.activate", code=code),
            }
            for d, code in issued
        ],
        title=_("Activation cards"),
        labels={
            "heading": _("Deputy phone activation card"),
            "number": _("Deputy number"),
            "delegation": _("Delegation"),
            "code": _("Activation code"),
            "instructions": _(
                "Scan the QR code with your own phone (WeChat's scanner works) and follow the "
                "prompt. The card works once; keep it safe."
            ),
            "page": _("Page %(page)s"),
        },
    )
    db.session.commit()
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = "attachment; filename=activation-cards.pdf"
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the deputy's phone -----------------------------------------------------------------------


@bp.route("/a", methods=["GET", "POST"], defaults={"code": None})
@bp.get("/a/<code>")
def activate(code):
    """Show whose card this is and ask to bind this phone (GET changes nothing)."""
    form = ActivationForm(code=code)
    deputy = error = None
    status = 200
    if code or form.validate_on_submit():
        try:
            deputy = operations.deputy_for_activation_code(form.code.data)
        except DomainError as exc:
            error = exc
            status = exc.status
    elif form.errors:
        status = 400
    return render_template(
        "deputies/activate.html", form=form, deputy=deputy, error=error, bound=current_deputy_device()
    ), status


def _activation_rate_limit_key():
    # Per card, not per address: deputies bind their phones together, behind one NAT address.
    # Guessing is no concern (a code has 79 random bits); hammering one card is.
    return "activate:" + normalize_activation_code(request.view_args.get("code"))


@bp.post("/a/<code>")
@limiter.limit(lambda: current_app.config["RATELIMIT_ACTIVATION"], key_func=_activation_rate_limit_key)
def bind_phone(code):
    """Bind this phone to the card's deputy and remember it in a long-lived cookie."""
    try:
        deputy, token = operations.activate(code, request.user_agent.string)
    except DomainError as error:
        return render_template(
            "deputies/activate.html",
            form=ActivationForm(code=code),
            deputy=None,
            error=error,
            bound=current_deputy_device(),
        ), error.status
    db.session.commit()
    response = redirect(url_for("deputies.me"))
    response.set_cookie(
        current_app.config["DEVICE_COOKIE_NAME"],
        token,
        max_age=current_app.config["DEPUTY_DEVICE_DAYS"] * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    flash(_("This phone is now bound to %(name)s.", name=deputy.name), "success")
    return response


@bp.get("/me")
def me():
    """The deputy's home on their phone."""
    device = current_deputy_device()
    meetings = meetings_signed_in(device) if device is not None else []
    return render_template("deputies/me.html", device=device, meetings=meetings), 200
