"""An opinion's status reads 已收到/已合并/已采纳/部分采纳/未采纳 on every page, never a ballot's 入选/未入选.

The catalog translates the bare "Adopted"/"Not adopted" for ballots (入选/未入选); opinion statuses
carry the context "opinion status" wherever they are shown.
"""

import re
from pathlib import Path

import pytest
from flask_babel import refresh

from voting.consultations import operations as ops
from voting.consultations.models import OpinionStatus, format_tracking_code
from voting.errors import Conflict
from voting.extensions import db
from voting.timeutil import utcnow

DRAFTS = Path(__file__).parent / "drafts"
CHINESE = {
    "received": "已收到",
    "merged": "已合并",
    "adopted": "已采纳",
    "partly_adopted": "部分采纳",
    "not_adopted": "未采纳",
}


@pytest.fixture
def handled(app, organizer):
    """One opinion in each status; return (draft, {status: opinion})."""
    draft, _ = ops.create_draft(organizer, (DRAFTS / "01_district_regulation.txt").read_text(encoding="utf-8"))
    ops.publish_draft(organizer, draft)
    opinions = {status: ops.submit_opinion(draft, f"意见：{status}")[0] for status in CHINESE}
    kept = opinions["received"]
    for status, opinion in opinions.items():
        if status == "merged":
            opinion.transition(OpinionStatus.MERGED)
            opinion.merged_into_id = kept.id
        elif status != "received":
            opinion.transition(OpinionStatus(status))
            opinion.handled_at = utcnow()
    db.session.commit()
    return draft, opinions


def test_labels_in_chinese_and_english(app):
    for language, expected in (("zh_CN", CHINESE), ("en", {s.value: s.value.replace("_", " ") for s in OpinionStatus})):
        with app.test_request_context(f"/?lang={language}"):
            refresh()  # the test's app context remembers the locale of the one before
            labels = {s.value: s.label for s in OpinionStatus}
        assert {k: v.lower() for k, v in labels.items()} == expected, language


def test_review_pages_show_opinion_statuses(client, login, organizer, handled):
    draft, opinions = handled
    login(organizer)
    page = client.get(f"/consultations/drafts/{draft.id}/review/opinions?status=all").get_data(as_text=True)
    shown = dict(re.findall(r'class="review-status review-status-(\w+)">([^<]+)<', page))
    assert shown == CHINESE
    assert "入选" not in page
    for status, opinion in opinions.items():
        page = client.get(f"/consultations/opinions/{opinion.id}").get_data(as_text=True)
        assert re.search(rf'review-status-{status}">{CHINESE[status]}<', page), status
        assert "入选" not in page


def test_the_sender_sees_the_same_words(client, handled):
    _, opinions = handled
    for status in ("adopted", "partly_adopted", "not_adopted"):
        code = format_tracking_code(opinions[status].tracking_code)
        assert client.get(f"/api/v1/opinions/tracking/{code}").get_json()["status_label"] == CHINESE[status]
        page = client.get(f"/c/track?code={code}").get_data(as_text=True)
        assert CHINESE[status] in page and "入选" not in page


def test_a_refused_transition_names_the_statuses(app, handled):
    _, opinions = handled
    with app.test_request_context("/"):
        with pytest.raises(Conflict) as refused:
            opinions["not_adopted"].transition(OpinionStatus.MERGED)
        assert "“未采纳”" in str(refused.value.message) and "“已合并”" in str(refused.value.message)
