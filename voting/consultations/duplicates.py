"""Suggest duplicate opinions: exact copies, near duplicates and mass campaigns. Pure.

Opinions are compared only within their article (the whole-draft opinions are one more
"article"); comparing 300,000 opinions pairwise would take hours, so they are grouped first:

1. Each text is normalised (full-width to half-width, case, punctuation and spaces dropped,
   numerals before a unit written as digits: 三十日 -> 30日) and identical normalised texts form
   exact groups at once.
2. In an article with up to 1,500 distinct texts every pair is compared, in rapidfuzz's C loop
   (a second or so). Beyond that, the distinct texts get a MinHash signature over their
   character 3-grams (one-permutation hashing with densification: one hash per distinct 3-gram)
   and go into LSH buckets, 10 bands of 3 values; only texts that share a bucket are compared,
   each newcomer with at most 8 texts already there, so a crowded bucket stays linear.
3. A candidate pair is verified with rapidfuzz's normalised Indel similarity on the normalised
   texts (>= ``threshold``, 80 by default) and a conflict check on the places where the two
   texts differ: opposite wording (增加/减少, 延长/缩短, 允许/禁止), a negation on one side only
   (同意/不同意, 删除/保留), or different quantities (15日/60日). Those are different opinions
   however alike they look.
4. Verified pairs are joined into components; each component is split around representatives
   so that every member is itself similar, without conflict, to its group's representative.

Character n-grams rather than jieba words: on the labelled pairs in tests/consultations/
test_duplicates.py word tokens separated near duplicates from different opinions no better
than characters (both fail on the same opposite-meaning pairs, which the conflict check
handles), while jieba costs 1.1 s to load and about as much per 10,000 opinions as all of the
steps above. Heavily reworded paraphrases are beyond any string similarity; they stay for the
organizer to spot on the article's page.
"""

import re
import unicodedata
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import Indel, Levenshtein

from voting.consultations.splitter import parse_chinese_number

DEFAULT_THRESHOLD = 80  # normalised Indel similarity, 0-100
CAMPAIGN_SIZE = 10  # this many opinions of (nearly) one text make a mass campaign
MIN_NEAR_CHARS = 8  # shorter texts (同意, 支持) are grouped only when identical
SHINGLE = 3
BANDS, ROWS = 10, 3  # LSH: a pair with Jaccard 0.5 of 3-grams meets in a bucket 74% of the time, 0.7: 98%
BINS = BANDS * ROWS
MAX_LEADERS = 8  # texts a bucket's newcomer is compared with, so a crowded bucket stays linear
MAX_SPLITS = 50  # representatives tried when a component falls apart
EXHAUSTIVE = 1500  # up to this many distinct texts in an article, every pair is compared (in C)

_M64 = (1 << 64) - 1
_UNIT = "条款项章节编日天月年周元倍个人名户次岁层米平方公里小时分钟号万千百%"
_NUMERAL = re.compile(rf"[零〇一二两三四五六七八九十百千万]+(?=[{_UNIT}])")
_NOT_WORD = re.compile(r"[\W_]+")
_QUANTITY = re.compile(
    r"(\d+(?:\.\d+)?)(日|天|个月|月|年|周|元|倍|个|人|名|户|次|岁|层|米|平方米|公里|小时|分钟|%|万|千|百)"
)
_NEGATION = re.compile(r"不|没|未|无|非|勿|别|莫|禁|反对|删|取消|拒|废止|撤销")
_OPPOSITES = (
    ("增", "减"), ("加", "减"), ("高", "低"), ("长", "短"), ("多", "少"), ("大", "小"), ("升", "降"), ("涨", "降"),
    ("扩", "缩"), ("延", "缩"), ("宽", "严"), ("松", "紧"), ("重", "轻"), ("早", "晚"), ("前", "后"), ("上", "下"),
    ("提", "降"), ("强", "弱"), ("快", "慢"), ("内", "外"), ("收费", "免费"), ("公开", "保密"), ("应当", "可以"),
    ("必须", "可以"), ("支持", "反对"), ("同意", "反对"), ("赞成", "反对"), ("政府", "市场"), ("租", "售"),
    ("买", "卖"), ("公", "私"), ("单", "双"),
)  # fmt: skip


@dataclass(frozen=True)
class Item:
    """An opinion to compare: ``article`` is any key (None for the whole draft)."""

    id: int
    text: str
    article: object = None
    people: int = 1
    preferred: bool = False  # already handled: the natural representative of its group


@dataclass(frozen=True)
class Member:
    id: int
    similarity: int  # to the representative, 0-100
    people: int = 1
    handled: bool = False  # an Item.preferred: decided already, so not merged into another


@dataclass
class Group:
    article: object
    representative: int  # an opinion id
    members: list[Member] = field(default_factory=list)  # the representative first
    exact: bool = True  # every member's text equals the representative's once normalised
    campaign: bool = False  # at least CAMPAIGN_SIZE opinions

    @property
    def size(self):
        return len(self.members)

    @property
    def people(self):
        return sum(m.people for m in self.members)

    @property
    def similarity(self):
        """The lowest similarity of a member to the representative."""
        return min(m.similarity for m in self.members)


# -- normalising and comparing -------------------------------------------------------------------


def _digits(match):
    try:
        return str(parse_chinese_number(match.group(0)))
    except ValueError:
        return match.group(0)


def normalize(text):
    """Fold a text for comparison: width, case, punctuation and spaces, numerals before a unit."""
    folded = unicodedata.normalize("NFKC", text or "").lower()
    folded = _NUMERAL.sub(_digits, folded)
    return _NOT_WORD.sub("", folded)


def similarity(a, b):
    """Return the similarity (0-100) of two normalised texts."""
    return Indel.normalized_similarity(a, b) * 100


def _regions(a, b):
    """Yield (left, right) for each stretch where a and b differ, as Levenshtein aligns them."""
    left_start = right_start = None
    for op in Levenshtein.opcodes(a, b):
        if op.tag == "equal":
            if left_start is not None:
                yield a[left_start : op.src_start], b[right_start : op.dest_start]
                left_start = right_start = None
        elif left_start is None:
            left_start, right_start = op.src_start, op.dest_start
    if left_start is not None:
        yield a[left_start:], b[right_start:]


def _quantities(text):
    return {(float(number), unit) for number, unit in _QUANTITY.findall(text)}


def conflicting(a, b):
    """Tell whether two alike normalised texts still say different things (see the module's doc)."""
    qa, qb = _quantities(a), _quantities(b)
    if qa and qb and qa != qb:
        return True
    for left, right in _regions(a, b):
        if len(_NEGATION.findall(left)) % 2 != len(_NEGATION.findall(right)) % 2:
            return True
        for x, y in _OPPOSITES:
            if (x in left and y in right and x not in right and y not in left) or (
                y in left and x in right and y not in right and x not in left
            ):
                return True
    return False


def alike(a, b, threshold=DEFAULT_THRESHOLD):
    """Return the similarity of two normalised texts if they are near duplicates, else None."""
    score = Indel.normalized_similarity(a, b, score_cutoff=threshold / 100) * 100
    if score < threshold or conflicting(a, b):
        return None
    return score


# -- grouping ------------------------------------------------------------------------------------


class _Signer:
    """MinHash signatures by one-permutation hashing; each distinct 3-gram is hashed once."""

    def __init__(self):
        self.hashes = {}

    def _hash(self, shingle):
        # From the characters themselves (not str.__hash__, which changes from run to run).
        x = int.from_bytes(shingle.encode("utf-32-le"), "little")
        z = (x ^ (x >> 64)) * 0x9E3779B97F4A7C15 & _M64
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & _M64
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB & _M64
        z ^= z >> 31
        self.hashes[shingle] = value = (z % BINS, z >> 8)
        return value

    def sign(self, text):
        n = SHINGLE if len(text) >= SHINGLE else len(text)
        shingles = {text[i : i + n] for i in range(len(text) - n + 1)}
        hashes = self.hashes
        for shingle in shingles.difference(hashes):
            self._hash(shingle)
        # Sorted from the largest down, dict() keeps each bin's smallest value.
        smallest = dict(sorted(map(hashes.__getitem__, shingles), reverse=True))
        if len(smallest) == BINS:
            return [smallest[b] for b in range(BINS)]
        # Densification: an empty bin borrows the next filled one's value, marked by the distance,
        # so that two texts agree on a borrowed value only when they agree on the bin lent from.
        filled = sorted(smallest)
        signature = []
        for b in range(BINS):
            value = smallest.get(b)
            if value is None:
                lender = filled[bisect_left(filled, b) % len(filled)]
                value = (smallest[lender], (lender - b) % BINS)
            signature.append(value)
        return signature


class _Components:
    def __init__(self, n):
        self.parent = list(range(n))

    def find(self, i):
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, i, j):
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def suggest(items, threshold=DEFAULT_THRESHOLD, campaign_size=CAMPAIGN_SIZE, exhaustive=EXHAUSTIVE):
    """Return the duplicate groups among ``items`` (Item), largest first; singletons are left out."""
    by_article = defaultdict(list)
    for item in items:
        by_article[item.article].append(item)
    signer = _Signer()
    groups = []
    for article, article_items in by_article.items():
        groups.extend(_article_groups(article, article_items, threshold, campaign_size, signer, exhaustive))
    groups.sort(key=lambda g: (-g.size, -g.people, g.representative))
    return groups


def _article_groups(article, items, threshold, campaign_size, signer, exhaustive):
    # 1. Exact copies once normalised.
    by_text = defaultdict(list)
    for item in items:
        by_text[normalize(item.text)].append(item)
    texts = [t for t in by_text if t]
    # 2. Candidate pairs, 3. verified, joined into components: every pair of a small article
    # (rapidfuzz's C loop), LSH buckets for a large one.
    components = _Components(len(texts))
    if len(texts) <= exhaustive:
        _all_pairs(texts, components, threshold)
    else:
        _bucket_pairs(texts, components, threshold, signer)
    members = defaultdict(list)
    for index in range(len(texts)):
        members[components.find(index)].append(index)
    # 4. Groups around representatives.
    groups = []
    for component in members.values():
        if len(component) == 1 and len(by_text[texts[component[0]]]) == 1:
            continue
        groups.extend(_split(article, component, texts, by_text, threshold, campaign_size))
    return groups


def _all_pairs(texts, components, threshold):
    for index, text in enumerate(texts):
        if len(text) < MIN_NEAR_CHARS:
            continue
        later = texts[index + 1 :]
        for _, _, offset in process.extract(text, later, scorer=Indel.normalized_similarity, processor=None,
                                            score_cutoff=threshold / 100, limit=None):  # fmt: skip
            other = index + 1 + offset
            if (
                len(later[offset]) >= MIN_NEAR_CHARS
                and components.find(index) != components.find(other)
                and not conflicting(text, later[offset])
            ):
                components.union(index, other)


def _bucket_pairs(texts, components, threshold, signer):
    buckets = {}
    for index, text in enumerate(texts):
        if len(text) < MIN_NEAR_CHARS:
            continue
        signature = signer.sign(text)
        for band in range(BANDS):
            key = (band, *signature[band * ROWS : (band + 1) * ROWS])
            leaders = buckets.get(key)
            if leaders is None:
                buckets[key] = [index]
                continue
            for leader in leaders:
                if components.find(leader) == components.find(index):
                    break
                if alike(texts[leader], text, threshold) is not None:
                    components.union(leader, index)
                    break
            else:
                if len(leaders) < MAX_LEADERS:
                    leaders.append(index)


def _weight(items):
    """Order texts for representing a group: handled first, then the most copies, then the oldest."""
    return (not any(i.preferred for i in items), -len(items), min(i.id for i in items))


def _split(article, component, texts, by_text, threshold, campaign_size):
    remaining = sorted(component, key=lambda index: _weight(by_text[texts[index]]))
    groups = []
    for _ in range(MAX_SPLITS):
        if not remaining:
            break
        leader, rest = remaining[0], remaining[1:]
        scored, remaining = [(leader, 100)], []
        for index in rest:
            score = alike(texts[leader], texts[index], threshold)
            if score is None:
                remaining.append(index)
            else:
                scored.append((index, round(score)))
        group = _group(article, scored, texts, by_text, campaign_size)
        if group is not None:
            groups.append(group)
    return groups


def _group(article, scored, texts, by_text, campaign_size):
    leader_items = sorted(by_text[texts[scored[0][0]]], key=lambda i: (not i.preferred, i.id))
    representative = leader_items[0]
    members = [Member(i.id, 100, i.people, i.preferred) for i in leader_items]
    for index, score in scored[1:]:
        copies = sorted(by_text[texts[index]], key=lambda i: i.id)
        members += [Member(i.id, score, i.people, i.preferred) for i in copies]
    if len(members) < 2:
        return None
    return Group(
        article=article,
        representative=representative.id,
        members=members,
        exact=len(scored) == 1,
        campaign=len(members) >= campaign_size,
    )
