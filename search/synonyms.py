"""Domain synonyms and the jieba dictionary extension.

Each group lists words a child director may use for the same thing; the first word is the canonical one
(usually the app's taxonomy label; the labels themselves are passed in, see ``search.documents.Labels``).
Matching is symmetric: a query with any word of a group also finds listings that use another word of the
group. Both backends use :func:`expanded_synonyms`: the embedded backend expands at query time, the Meilisearch
backend sends it as its ``synonyms`` setting. :data:`STOP_WORDS` is the one stop-word list of both engines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

SYNONYM_GROUPS: Final[tuple[tuple[str, ...], ...]] = (
    # services (the taxonomy's labels first)
    ("心理疏导", "心理辅导", "心理咨询", "心理健康", "心理援助", "心理干预", "心理支持"),
    ("精神慰藉", "情感支持", "情感陪伴", "关爱陪伴", "陪伴"),
    ("临时照料", "托管", "照护", "临时看护", "临时托管"),
    ("康复指导", "康复", "康复训练", "康复治疗"),
    ("特殊教育", "特教", "融合教育"),
    ("送教上门", "上门送教"),
    ("助学", "教育资助", "奖学金", "助学金", "学业资助", "资助就学"),
    ("助医", "医疗救助", "医疗援助", "医疗资助", "就医帮扶"),
    ("法律援助", "法律咨询", "法援", "法律服务", "法律帮助"),
    ("监护评估", "监护能力评估", "监护状况评估"),
    ("家庭教育指导", "家庭教育", "亲子教育", "家教指导", "家长课堂"),
    ("家庭探访", "入户探访", "家访", "上门探访", "入户走访"),
    ("走访核查", "核查走访", "入户核查", "摸排"),
    ("热线运行", "热线", "12355", "求助热线", "咨询热线"),
    ("精准帮扶", "个案帮扶", "一对一帮扶", "个案管理"),
    ("物资帮扶", "物资捐赠", "物资援助", "爱心物资", "生活物资"),
    ("行为矫治", "行为矫正", "行为偏差", "不良行为干预"),
    ("关系调适", "亲子关系", "家庭关系", "亲子沟通"),
    ("社会融入", "社区融入", "融入社会", "社会适应"),
    ("安全教育", "安全知识", "十防", "自护教育"),
    ("防溺水", "溺水", "游泳安全"),
    ("政策宣传", "政策宣讲", "政策解读"),
    ("业务培训", "能力培训", "儿童主任培训", "能力建设"),
    ("课业辅导", "学业辅导", "作业辅导", "功课辅导", "四点半课堂", "课后辅导"),
    # children
    ("留守儿童", "留守", "农村留守儿童", "留守孩子"),
    ("残疾", "残障", "残疾儿童", "残障儿童"),
    ("孤儿", "事实无人抚养儿童", "无人抚养", "困境儿童"),
    ("重病", "大病", "重病儿童", "重疾"),
    ("遭受侵害", "受侵害", "侵害", "受虐", "虐待", "欺凌"),
    ("家庭经济困难", "困难家庭", "低保", "低收入家庭", "经济困难"),
    ("流浪儿童", "流浪", "流浪未成年人"),
    ("艾滋病病毒感染", "艾滋病", "hiv"),
    ("监护缺失", "监护不当", "缺乏监护", "监护缺位"),
    ("自闭症", "孤独症", "自闭症谱系"),
    ("网络成瘾", "网瘾", "沉迷网络", "网络沉迷", "防沉迷"),
    ("防性侵", "性教育", "自我保护", "防性侵害"),
    # people and providers
    ("社工", "社会工作者", "社工师"),
    ("志愿者", "义工", "志愿服务"),
    ("儿童主任", "儿童督导员"),
)

# Further words jieba must keep whole (besides every taxonomy label and synonym).
EXTRA_WORDS: Final[tuple[str, ...]] = (
    "园岭",
    "南园",
    "福田",
    "沙头",
    "香蜜湖",
    "梅林",
    "莲花",
    "华富",
    "福保",
    "华强北",
    "一人一档",
    "五社联动",
    "未成年人保护",
    "未成年人",
    "护苗",
    "社工机构",
    "民生微实事",
    "街道基金会",
    "公益基金",
    "周末",
    "寒暑假",
    "暑期",
    "夏令营",
    "读书会",
    "沙盘",
    "绘画治疗",
    "团体辅导",
    "小组活动",
    "心理测评",
    "危机干预",
    "言语训练",
    "感统训练",
    "感觉统合",
    "学业",
    "就医",
    "陪诊",
    "营养餐",
    "体检",
)


# Words neither engine indexes nor searches for (Meilisearch's ``stopWords`` setting; the embedded analyzer drops
# them from documents and queries alike). Kept as data: one word per entry, lower case.
STOP_WORDS: Final[tuple[str, ...]] = tuple(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "或",
        "等",
        "在",
        "为",
        "对",
        "是",
        "有",
        "也",
        "就",
        "都",
        "而",
        "把",
        "被",
        "让",
        "给",
        "向",
        "从",
        "到",
        "以",
        "之",
        "其",
        "中",
        "上",
        "下",
        "个",
        "各",
        "每",
        "我",
        "你",
        "他",
        "她",
        "它",
        "我们",
        "你们",
        "他们",
        "这",
        "那",
        "这些",
        "那些",
        "一个",
        "一些",
        "进行",
        "开展",
        "提供",
        "通过",
        "可以",
        "需要",
        "相关",
        "以及",
        "并",
        "将",
        "由",
        "于",
        "所",
        "如",
        "该",
        "着",
        "过",
        "吗",
        "呢",
        "吧",
        "啊",
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "to",
        "in",
        "for",
    ]
)

# Meilisearch looks a synonym up for one query word and for runs of two or three consecutive query words, never
# for longer runs: a key its tokenizer cuts into more words never fires from the query side.
MAX_SYNONYM_KEY_WORDS: Final = 3


def _split_label(label: str) -> list[str]:
    return [part for part in label.replace("、", "/").split("/") if part]


def dictionary_words(labels: Iterable[str] = ()) -> list[str]:
    """Every label passed in (the app's taxonomy, see ``search.documents.Labels``), synonym and extra word,
    deduplicated, longest first."""
    words: set[str] = set()
    for label in labels:
        words.update(_split_label(label))
    for group in SYNONYM_GROUPS:
        words.update(group)
    words.update(EXTRA_WORDS)
    return sorted((w for w in words if len(w) > 1), key=lambda w: (-len(w), w))


def synonym_map() -> dict[str, tuple[str, ...]]:
    """word -> the other words of its groups (a word may sit in several groups)."""
    result: dict[str, list[str]] = {}
    for group in SYNONYM_GROUPS:
        for word in group:
            others = result.setdefault(word.lower(), [])
            others.extend(w.lower() for w in group if w != word and w.lower() not in others)
    return {word: tuple(others) for word, others in result.items()}


def meilisearch_synonyms() -> dict[str, list[str]]:
    """The groups in Meilisearch's ``synonyms`` setting format (multi-way: every word maps to the rest), not
    expanded; what the engines use is :func:`expanded_synonyms`."""
    return {word: list(others) for word, others in synonym_map().items()}


def expanded_synonyms(segment: Callable[[str], Sequence[str]] | None = None) -> dict[str, list[str]]:
    """The synonym table, ready for Meilisearch's ``synonyms`` setting and used as is by the embedded engine:
    every word (lower case) -> the other words of its groups, so that a key of any length fires from the query side.

    Every key is a dictionary word (:func:`dictionary_words`), which both segmenters keep whole once the engine
    has the domain dictionary (Meilisearch's ``dictionary`` setting). In case a segmenter still cuts a key into
    more than :data:`MAX_SYNONYM_KEY_WORDS` words (``segment``; by default jieba's own dictionary without the
    domain words, which is how a server without the dictionary cuts it), the run of its first three words is
    added as a key too, mapping to the key itself and its synonyms: a query holding the long key then fires
    through that run (事实无人抚养儿童, four words for jieba's own dictionary, adds 事实无人抚养).
    """
    if segment is None:
        from search.text import plain_words

        segment = plain_words
    table = {word: list(others) for word, others in synonym_map().items()}
    expanded: dict[str, list[str]] = {}
    for word, others in table.items():
        expanded.setdefault(word, [])
        expanded[word].extend(o for o in others if o not in expanded[word])
        words = [w for w in segment(word) if w.strip()]
        if len(words) > MAX_SYNONYM_KEY_WORDS:
            head = "".join(words[:MAX_SYNONYM_KEY_WORDS])
            targets = expanded.setdefault(head, [])
            targets.extend(o for o in [word, *others] if o != head and o not in targets)
    return expanded
