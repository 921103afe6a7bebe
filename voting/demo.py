"""A clearly labelled demo congress, so a newcomer can try everything at once."""

import os
import random

from voting.deputies.models import Deputy
from voting.deputies.operations import issue_activation_code
from voting.extensions import db
from voting.meetings.operations import create_meeting

DEMO_DELEGATIONS = [
    "城关街道代表团", "东湖街道代表团", "西园街道代表团", "南门街道代表团", "北山街道代表团", "新桥街道代表团",
    "青石镇代表团", "白沙镇代表团", "梅林镇代表团", "解放军代表团", "高新区代表团", "经开区代表团",
]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅晓东海燕志宏文斌玉兰春雷鹏辉"
DEMO_DEPUTIES = 300
DEMO_LINKS = 3


def seed_demo():
    """Add 300 demo deputies in 12 delegations and one meeting; return a few activation links."""
    rng = random.Random(2027)  # the same demo every time
    deputies = []
    for index in range(DEMO_DEPUTIES):
        name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))
        deputies.append(Deputy(number=f"DEMO{index + 1:03d}", name=name,
                               delegation=DEMO_DELEGATIONS[index % len(DEMO_DELEGATIONS)]))
    db.session.add_all(deputies)
    db.session.flush()
    create_meeting(None, "【演示】区第十八届人民代表大会第三次会议", "区会议中心大礼堂")
    base = os.environ.get("VOTING_PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    links = []
    for deputy in deputies[:DEMO_LINKS]:
        code = issue_activation_code(None, deputy)
        links.append((f"{deputy.name} ({deputy.number}, {deputy.delegation})", f"{base}/a/{code}"))
    return links
