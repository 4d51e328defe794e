"""Deterministic demo data for Futian district, Shenzhen (深圳市福田区), after seed 000 (2023).

Pure data: no database code. Everything here is either hand-written or drawn from ``random.Random(2023)``
in a fixed order, so every import yields the same values. All persons (children, guardians, directors,
supervisors, social workers, contacts, donors) are synthetic names built from common surnames and given
names; phone numbers use the 1380000xxxx / 1390000xxxx blocks; resident ID numbers use the sequence block
``99x`` (see :func:`resident_id`). Street and community names are Futian's real ones as far as known, with
plausible names filling the gaps; the 9/12-digit division codes are synthetic numbering.

Dates are fixed against :data:`REFERENCE_DATE`; every dated record also carries ``days_ago`` so a loader
can rebase it onto today (``today - timedelta(days=days_ago)``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from marketplace.resources import credit_code
from marketplace.resources.taxonomy import CHILD_CATEGORIES, FIVE_SOCIETIES, FUNDING_SOURCES

DEMO_PASSWORD: Final[str] = "demo-password"  # noqa: S105 - published demo logins, never production
DISTRICT_NAME: Final[str] = "福田区"
DISTRICT_DIVISION: Final[str] = credit_code.FUTIAN_DIVISION  # 440304
REFERENCE_DATE: Final[date] = date(2026, 11, 1)
SEED: Final[int] = 2023

SPECIAL_BUDGET_FEN: Final[int] = 380_000_000  # 380万元 专项资金
FUND_RAISED_FEN: Final[int] = 30_000_000  # 30万元 公益基金已募集
ORPHAN_ALLOWANCE_FEN_PER_MONTH: Final[int] = 245_400  # 2,454 元/人/月 (2023-01-01 起)

ALL_CHILD_CATEGORIES: Final[tuple[str, ...]] = tuple(CHILD_CATEGORIES)

# ---------------------------------------------------------------------------------------------------------
# Streets and communities
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Street:
    code: str  # e.g. "yuanling"
    name: str  # e.g. "园岭街道"
    division_code: str  # 9-digit township-level code, synthetic numbering 440304001…440304010


@dataclass(frozen=True, slots=True)
class Community:
    code: str  # pinyin, unique district-wide, e.g. "fushan"
    name: str  # e.g. "福山社区"
    street_code: str
    division_code: str  # 12-digit village-level code, synthetic numbering


# (street short name, street code, [(community name, community code), …]) — 92 communities in all.
_GEOGRAPHY: Final[tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]] = (
    (
        "园岭",
        "yuanling",
        (
            ("红荔", "hongli"),
            ("上步", "shangbu"),
            ("华林", "hualin"),
            ("鹏盛", "pengsheng"),
            ("百花", "baihua"),
            ("园东", "yuandong"),
            ("园西", "yuanxi"),
            ("长城", "changcheng"),
            ("南天", "nantian"),
            ("八卦岭", "bagualing"),
        ),
    ),
    (
        "南园",
        "nanyuan",
        (
            ("南华", "nanhua"),
            ("南园", "nanyuan"),
            ("巴登", "badeng"),
            ("埔尾", "puwei"),
            ("赤尾", "chiwei"),
            ("南村", "nancun"),
            ("滨江", "binjiang"),
            ("南光", "nanguang"),
            ("玉田", "yutian"),
            ("沙埔头", "shaputou"),
            ("东园", "dongyuan"),
        ),
    ),
    (
        "福田",
        "futian",
        (
            ("福山", "fushan"),
            ("福安", "fuan"),
            ("岗厦", "gangxia"),
            ("皇岗", "huanggang"),
            ("水围", "shuiwei"),
            ("渔农", "yunong"),
            ("福南", "funan"),
            ("福溪", "fuxi"),
            ("口岸", "kouan"),
            ("新河", "xinhe"),
            ("福滨", "fubin"),
            ("福民", "fumin"),
            ("福田", "futian"),
            ("福华", "fuhua"),
            ("金田", "jintian"),
        ),
    ),
    (
        "沙头",
        "shatou",
        (
            ("沙头", "shatou"),
            ("上沙", "shangsha"),
            ("下沙", "xiasha"),
            ("沙嘴", "shazui"),
            ("沙尾", "shawei"),
            ("新沙", "xinsha"),
            ("金地", "jindi"),
            ("天安", "tianan"),
            ("翠湾", "cuiwan"),
            ("新华", "xinhua"),
            ("金域", "jinyu"),
        ),
    ),
    (
        "香蜜湖",
        "xiangmihu",
        (
            ("香蜜", "xiangmi"),
            ("香岭", "xiangling"),
            ("香安", "xiangan"),
            ("侨香", "qiaoxiang"),
            ("东海", "donghai"),
            ("农园", "nongyuan"),
            ("农科", "nongke"),
            ("竹林", "zhulin"),
            ("竹园", "zhuyuan"),
        ),
    ),
    (
        "梅林",
        "meilin",
        (
            ("梅林", "meilin"),
            ("上梅林", "shangmeilin"),
            ("下梅林", "xiameilin"),
            ("梅河", "meihe"),
            ("梅都", "meidu"),
            ("梅丰", "meifeng"),
            ("梅京", "meijing"),
            ("孖岭", "maling"),
            ("新兴", "xinxing"),
            ("翰岭", "hanling"),
            ("梅亭", "meiting"),
        ),
    ),
    (
        "莲花",
        "lianhua",
        (
            ("彩田", "caitian"),
            ("福中", "fuzhong"),
            ("紫荆", "zijing"),
            ("景华", "jinghua"),
            ("狮岭", "shiling"),
            ("梅岗", "meigang"),
            ("莲花北", "lianhuabei"),
            ("康欣", "kangxin"),
            ("悦龙", "yuelong"),
            ("景田", "jingtian"),
        ),
    ),
    (
        "华富",
        "huafu",
        (
            ("华富", "huafu"),
            ("田面", "tianmian"),
            ("新田", "xintian"),
            ("黄木岗", "huangmugang"),
            ("莲花一村", "lianhuayicun"),
            ("福新", "fuxin"),
        ),
    ),
    (
        "福保",
        "fubao",
        (
            ("福保", "fubao"),
            ("益田", "yitian"),
            ("石厦", "shixia"),
            ("明月", "mingyue"),
        ),
    ),
    (
        "华强北",
        "huaqiangbei",
        (
            ("华航", "huahang"),
            ("荔村", "licun"),
            ("通新岭", "tongxinling"),
            ("华红", "huahong"),
            ("福强", "fuqiang"),
        ),
    ),
)

STREETS: Final[tuple[Street, ...]] = tuple(
    Street(code=code, name=f"{short}街道", division_code=f"{DISTRICT_DIVISION}{i:03d}")
    for i, (short, code, _) in enumerate(_GEOGRAPHY, start=1)
)

COMMUNITIES: Final[tuple[Community, ...]] = tuple(
    Community(
        code=ccode,
        name=f"{cname}社区",
        street_code=scode,
        division_code=f"{DISTRICT_DIVISION}{si:03d}{ci:03d}",
    )
    for si, (_, scode, comms) in enumerate(_GEOGRAPHY, start=1)
    for ci, (cname, ccode) in enumerate(comms, start=1)
)

STREET_BY_CODE: Final[dict[str, Street]] = {s.code: s for s in STREETS}
COMMUNITY_BY_CODE: Final[dict[str, Community]] = {c.code: c for c in COMMUNITIES}


def communities_of(street_code: str) -> tuple[Community, ...]:
    return tuple(c for c in COMMUNITIES if c.street_code == street_code)


# ---------------------------------------------------------------------------------------------------------
# Synthetic names and phone numbers
# ---------------------------------------------------------------------------------------------------------

# Common surnames, weighted towards Guangdong (陈、李、黄、张、林、刘 …) by repetition.
_SURNAMES: Final[str] = (
    "陈陈陈陈李李李黄黄黄张张张林林林刘刘王王吴吴杨杨郑郑梁梁谢谢何何罗罗周周徐徐叶叶"
    "赵孙马朱胡郭高钟曾彭邓冯许蔡潘袁蒋余杜程魏苏吕丁卢姚沈姜谭陆范廖方邹熊邱江赖温"
    "钟古丘詹欧翁凌戴宋唐韩曹肖田董于任石金贾夏付孟秦侯尹薛段雷龙黎史陶贺毛顾龚邵万"
)
_MALE_GIVEN: Final[str] = "浩宇轩子俊杰博文明志伟嘉豪晨睿泽一铭诚乐安凯鹏航然瑞昊宏景康毅思远辰逸翔霖锦煜梓皓家"
_FEMALE_GIVEN: Final[str] = "欣怡梓涵诗雨婷晓琳佳慧静雅萱悦妍彤可馨颖嘉思若芷语晴婉琪蕾瑶敏丽芳月心艺沁冰露宁"
_ADULT_MALE_GIVEN: Final[str] = "建国华明强伟军勇志刚德福海东林波斌文涛峰辉健平忠荣永春金祥庆胜新"
_ADULT_FEMALE_GIVEN: Final[str] = "秀芳丽英玲娟红梅燕霞萍琴兰凤华艳敏静慧洁雪春桂莉云珍娜婷"


def _name(rng: random.Random, gender: str, *, adult: bool = False) -> str:
    if adult:
        pool = _ADULT_MALE_GIVEN if gender == "male" else _ADULT_FEMALE_GIVEN
    else:
        pool = _MALE_GIVEN if gender == "male" else _FEMALE_GIVEN
    given = rng.choice(pool)
    if rng.random() < 0.8:
        second = rng.choice(pool)
        while second == given:
            second = rng.choice(pool)
        given += second
    return rng.choice(_SURNAMES) + given


class _Phones:
    """Sequential synthetic mobile numbers in a reserved-looking block, e.g. 13800001001."""

    def __init__(self, prefix: str, start: int) -> None:
        self._prefix = prefix
        self._next = start

    def next(self) -> str:
        number = f"{self._prefix}{self._next:04d}"
        self._next += 1
        return number


_rng = random.Random(SEED)
_staff_phones = _Phones("1380000", 1001)


# ---------------------------------------------------------------------------------------------------------
# Organizations
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Organization:
    index: int
    name: str
    short_name: str
    kind: str  # ORGANIZATION_KINDS
    credit_code: str
    status: str  # ORGANIZATION_STATUSES
    contact_name: str
    contact_phone: str
    address: str
    street_codes: tuple[str, ...]  # streets served; empty = district-wide
    description: str


_ALL: Final[tuple[str, ...]] = ()
_CREDIT_BY_KIND: Final[dict[str, tuple[str, str]]] = {
    # kind: (registration authority, organisation type) — default; overridden per row where needed
    "social_work_agency": ("5", "3"),
    "charity": ("5", "3"),
    "volunteer_org": ("5", "1"),
    "mass_org": ("1", "3"),
    "enterprise": ("9", "1"),
    "public_institution": ("1", "2"),
}

# (name, short name, kind, (authority, type) or None for the kind's default, streets served, status, description)
_ORG_ROWS: Final[tuple[tuple[str, str, str, tuple[str, str] | None, tuple[str, ...], str, str], ...]] = (
    (
        "深圳市福田区护苗社会工作服务中心",
        "护苗社工",
        "social_work_agency",
        None,
        _ALL,
        "approved",
        "专注困境儿童个案管理、心理疏导与家庭支持，承接区未成年人保护服务中心的个案评估和儿童主任督导服务。",
    ),
    (
        "深圳市福田区启航社会工作服务中心",
        "启航社工",
        "social_work_agency",
        None,
        ("futian", "shatou", "fubao"),
        "approved",
        "扎根福田、沙头、福保片区城中村，开展留守及随迁儿童陪伴、困境儿童走访核查和安全教育。",
    ),
    (
        "深圳市福田区向阳花社会工作服务中心",
        "向阳花社工",
        "social_work_agency",
        None,
        ("yuanling", "nanyuan", "huaqiangbei"),
        "approved",
        "服务单亲及经济困难家庭儿童，提供学业支持、政策宣传和物资链接。",
    ),
    (
        "深圳市福田区同心圆社会工作服务社",
        "同心圆社工",
        "social_work_agency",
        None,
        ("meilin", "lianhua"),
        "approved",
        "以家庭为中心开展家庭教育指导、精准帮扶和重点儿童定期探访。",
    ),
    (
        "深圳市福田区馨苑家庭综合服务中心",
        "馨苑家综",
        "social_work_agency",
        None,
        ("xiangmihu", "huafu"),
        "approved",
        "运营社区家庭综合服务，提供亲职辅导、家庭关系调适和临时照料。",
    ),
    (
        "深圳市福田区星语儿童心理发展中心",
        "星语心理",
        "social_work_agency",
        None,
        _ALL,
        "approved",
        "由心理咨询师和临床社工组成，提供儿童青少年心理评估、危机干预和创伤治疗。",
    ),
    (
        "深圳市福田区暖阳社会工作服务中心",
        "暖阳社工",
        "social_work_agency",
        None,
        ("shatou", "xiangmihu"),
        "approved",
        "关注隔代抚养和事实无人抚养儿童，开展陪伴、节日关爱和走访核查。",
    ),
    (
        "深圳市福田区童心园社会工作服务中心",
        "童心园社工",
        "social_work_agency",
        None,
        ("huafu", "lianhua"),
        "approved",
        "聚焦学龄前及特殊需要儿童的早期发展和社会融合。",
    ),
    (
        "深圳市福田区彩虹桥青少年社会工作服务中心",
        "彩虹桥青少年",
        "social_work_agency",
        None,
        _ALL,
        "approved",
        "面向青少年开展行为矫治、临界预防、校园欺凌预防和复学支持。",
    ),
    (
        "深圳市福田区晨曦社会工作服务中心",
        "晨曦社工",
        "social_work_agency",
        None,
        ("meilin",),
        "approved",
        "梅林片区综合社工服务机构，开展微心愿、流动儿童融入和街道督导支持。",
    ),
    (
        "深圳市福田区和悦家庭社会工作服务中心",
        "和悦家庭",
        "social_work_agency",
        None,
        ("nanyuan", "fubao"),
        "approved",
        "提供高冲突家庭关系修复、家庭探访和家庭教育促进法宣讲。",
    ),
    (
        "深圳市福田区青苗成长社会工作服务中心",
        "青苗成长",
        "social_work_agency",
        None,
        ("yuanling", "huaqiangbei"),
        "approved",
        "在园岭、华强北片区开展暑期托管、成长导师结对和儿童主任朋辈督导。",
    ),
    (
        "深圳市福田区守望者社会工作服务中心",
        "守望者社工",
        "social_work_agency",
        None,
        _ALL,
        "approved",
        "承接区未成年人保护热线运行，受理强制报告线索并开展应急值守与转介。",
    ),
    (
        "深圳市福田区同行司法社会工作服务中心",
        "同行司法社工",
        "social_work_agency",
        None,
        _ALL,
        "approved",
        "为涉案及遭受侵害的未成年人提供司法社工支持、取证陪伴和监护干预协助。",
    ),
    (
        "深圳市福田区关爱儿童公益基金会",
        "关爱儿童基金会",
        "charity",
        ("5", "2"),
        _ALL,
        "approved",
        "非公募基金会，资助困境儿童大病医疗、孤儿助学和冬季物资。",
    ),
    (
        "深圳市福田区福苗助学促进会",
        "福苗助学会",
        "charity",
        ("5", "1"),
        _ALL,
        "approved",
        "联合爱心企业和个人设立助学金，资助困境儿童完成学业。",
    ),
    (
        "深圳市福田区晴天儿童康复公益服务中心",
        "晴天康复",
        "charity",
        None,
        _ALL,
        "approved",
        "为残疾儿童提供居家康复指导、运动康复和言语训练，收费低于市场价，困境儿童免费。",
    ),
    (
        "深圳市福田区书香童年阅读推广中心",
        "书香童年",
        "charity",
        None,
        _ALL,
        "approved",
        "在社区设立流动书箱，开展困境儿童阅读陪伴和亲子共读。",
    ),
    (
        "深圳市福田区沙头街道社区基金会",
        "沙头街道基金会",
        "charity",
        ("5", "2"),
        ("shatou",),
        "approved",
        "街道基金会，统筹民生微实事和爱心资金帮扶沙头街道困境儿童家庭。",
    ),
    (
        "深圳市福田区香蜜湖街道社区基金会",
        "香蜜湖街道基金会",
        "charity",
        ("5", "2"),
        ("xiangmihu",),
        "approved",
        "街道基金会，开展困境儿童节日关爱和儿童友好社区营造。",
    ),
    (
        "深圳市福田区暖心衣橱公益服务中心",
        "暖心衣橱",
        "charity",
        None,
        _ALL,
        "approved",
        "募集、整理和配送衣物及生活物资，按儿童主任提交的需求清单精准配送。",
    ),
    (
        "深圳市福田区青年志愿者协会",
        "区青志协",
        "volunteer_org",
        None,
        _ALL,
        "approved",
        "组织青年志愿者开展学业陪伴、寒暑假安全巡查等志愿服务。",
    ),
    (
        "深圳市福田区蓝盾安全教育志愿者协会",
        "蓝盾安全",
        "volunteer_org",
        None,
        _ALL,
        "approved",
        "由消防、救生和警务退休人员组成，开展防溺水、防性侵等儿童安全教育。",
    ),
    (
        "深圳市福田区巾帼志愿者协会",
        "巾帼志协",
        "volunteer_org",
        None,
        _ALL,
        "approved",
        "组织女性志愿者入户关爱困境儿童，开展“妈妈课堂”。",
    ),
    (
        "深圳市福田区妇女联合会",
        "区妇联",
        "mass_org",
        None,
        _ALL,
        "approved",
        "维护妇女儿童合法权益，运营家庭教育指导服务站和反家暴庇护转介。",
    ),
    (
        "共青团深圳市福田区委员会",
        "团区委",
        "mass_org",
        None,
        _ALL,
        "approved",
        "运营12355青少年服务台，开展青少年自护教育。",
    ),
    (
        "深圳市福田区残疾人联合会",
        "区残联",
        "mass_org",
        None,
        _ALL,
        "approved",
        "统筹残疾儿童康复救助、送教上门和辅具适配。",
    ),
    (
        "深圳市鹏程福康医疗科技有限公司",
        "鹏程福康",
        "enterprise",
        None,
        _ALL,
        "approved",
        "医疗器械企业，履行企业社会责任，为困境儿童提供免费筛查和器械捐赠。",
    ),
    (
        "深圳市莲花山文化传播有限公司",
        "莲花山文化",
        "enterprise",
        None,
        ("lianhua", "huafu"),
        "approved",
        "文化传播企业，捐赠艺术疗愈和研学活动。",
    ),
    (
        "深圳市华强北数码科技有限公司",
        "华强北数码",
        "enterprise",
        None,
        ("huaqiangbei", "yuanling"),
        "approved",
        "电子产品企业，捐赠网课设备并派员工志愿者开展编程兴趣课。",
    ),
    (
        "深圳市福田区妇幼保健院",
        "区妇幼保健院",
        "public_institution",
        None,
        _ALL,
        "approved",
        "区属妇幼保健机构，为困境儿童提供健康体检、发育评估和高危儿随访。",
    ),
    (
        "深圳市福田区特殊教育资源中心",
        "区特教资源中心",
        "public_institution",
        None,
        _ALL,
        "approved",
        "统筹全区融合教育巡回指导和重度残疾儿童送教上门。",
    ),
    (
        "深圳市福田区社会福利和社会捐助中心",
        "区未成年人救助保护中心",
        "public_institution",
        None,
        _ALL,
        "approved",
        "挂牌区未成年人救助保护中心，设救助保护室，为有临时照料需求的困境儿童提供关爱照护。",
    ),
    (
        "深圳市福荔餐饮管理有限公司",
        "福荔餐饮",
        "enterprise",
        None,
        ("futian", "nanyuan"),
        "pending",
        "团餐企业，申请入库为困境儿童提供营养午餐（待审核）。",
    ),
)


def _org_body(rng: random.Random, kind: str, taken: set[str]) -> str:
    digits = "0123456789"
    while True:
        if kind in ("social_work_agency", "charity", "volunteer_org"):
            body = "MJ" + rng.choice("L0") + "".join(rng.choice(digits) for _ in range(5))
        elif kind == "enterprise":
            body = "MA5" + "".join(rng.choice(credit_code.ALPHABET) for _ in range(5))
        else:
            body = "".join(rng.choice(digits) for _ in range(8))
        if body not in taken:
            taken.add(body)
            return body


def _build_organizations() -> tuple[Organization, ...]:
    taken: set[str] = set()
    out: list[Organization] = []
    for i, (name, short, kind, auth_type, streets, status, desc) in enumerate(_ORG_ROWS):
        authority, org_type = auth_type or _CREDIT_BY_KIND[kind]
        code = credit_code.make(authority, org_type, DISTRICT_DIVISION, _org_body(_rng, kind, taken))
        home = COMMUNITIES[_rng.randrange(len(COMMUNITIES))]
        if streets:
            home = _rng.choice(communities_of(streets[0]))
        street = STREET_BY_CODE[home.street_code]
        block = f"{_rng.choice('东西南北中')}区{_rng.randint(1, 40)}栋{_rng.randint(1, 6)}楼"
        address = f"深圳市福田区{street.name}{home.name}{block}"
        out.append(
            Organization(
                index=i,
                name=name,
                short_name=short,
                kind=kind,
                credit_code=code,
                status=status,
                contact_name=_name(_rng, _rng.choice(("male", "female")), adult=True),
                contact_phone=_staff_phones.next(),
                address=address,
                street_codes=streets,
                description=desc,
            )
        )
    return tuple(out)


ORGANIZATIONS: Final[tuple[Organization, ...]] = _build_organizations()


# ---------------------------------------------------------------------------------------------------------
# Service projects (the resource pool)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Service:
    organization_index: int
    title: str
    description: str
    eligibility: str
    categories: tuple[str, ...]  # 1-3 SERVICE_CATEGORIES codes
    child_categories: tuple[str, ...]  # CHILD_CATEGORIES codes accepted
    age_min: int
    age_max: int
    street_codes: tuple[str, ...]  # empty = district-wide
    capacity_per_month: int
    cost_per_case_fen: int  # 0 = free
    delivery_mode: str  # DELIVERY_MODES
    funding_source: str  # FUNDING_SOURCES
    schedule: str
    wait_time_days: int
    fees_text: str
    five_societies: tuple[str, ...]  # FIVE_SOCIETIES codes
    assured_days_ago: int  # information last confirmed this many days before REFERENCE_DATE
    status: str  # SERVICE_STATUSES

    @property
    def assured_on(self) -> date:
        return REFERENCE_DATE - timedelta(days=self.assured_days_ago)


_K_HARD: Final = ("economic_hardship", "left_behind", "orphan", "de_facto_unsupported")
_K_GUARD: Final = ("guardianship_lacking", "de_facto_unsupported", "abused", "orphan")
_K_HEALTH: Final = ("disabled", "seriously_ill", "hiv_affected")

# (org index, title, categories, child categories (() = all), ages, delivery mode, description)
_SERVICE_ROWS: Final[tuple[tuple[int, str, tuple[str, ...], tuple[str, ...], tuple[int, int], str, str], ...]] = (
    # 0 护苗社工 (district-wide)
    (
        0,
        "“护苗”困境儿童个案管理服务",
        ("targeted_assistance", "home_visits", "guardianship_assessment"),
        (),
        (0, 17),
        "in_person",
        "为困境儿童提供一人一案的个案管理：社工入户评估、制定帮扶计划、链接资源并跟踪至结案，每季度向儿童主任反馈个案进展。",
    ),
    (
        0,
        "困境儿童心理健康筛查与疏导",
        ("psych_counselling", "emotional_support"),
        (),
        (6, 17),
        "mixed",
        "持证心理咨询师和社工对困境儿童开展心理健康量表筛查，对筛查阳性儿童提供6-8次个体心理疏导，必要时转介专科医院。",
    ),
    (
        0,
        "儿童主任个案实务能力提升培训",
        ("director_training",),
        (),
        (0, 17),
        "centre",
        "面向全区92名社区儿童主任和10名街道督导员，围绕强制报告、个案评估、一人一档建档规范开展季度实务培训和案例督导。",
    ),
    (
        0,
        "监护状况评估与监护能力提升",
        ("guardianship_assessment", "family_education"),
        _K_GUARD,
        (0, 17),
        "in_person",
        "对监护缺失、监护不当的家庭开展结构化监护评估，出具评估报告供街道和民政部门决策，并为监护人提供监护能力提升辅导。",
    ),
    (
        0,
        "困境儿童“四点半课堂”课后托管",
        ("temporary_care", "education_aid"),
        ("left_behind", "economic_hardship", "guardianship_lacking"),
        (6, 12),
        "centre",
        "学期内工作日放学后在社区党群服务中心提供作业辅导、阅读和兴趣活动，解决双职工和单亲家庭放学后无人看护问题。",
    ),
    # 1 启航社工 (福田/沙头/福保)
    (
        1,
        "“护苗”留守儿童周末陪伴计划",
        ("emotional_support", "social_integration"),
        ("left_behind", "economic_hardship"),
        (6, 14),
        "centre",
        "每周六组织随迁及留守儿童开展读书会、手工和户外探索活动，志愿者一对一结对陪伴，每月与在外务工父母视频连线一次。",
    ),
    (
        1,
        "困境家庭亲子关系调适小组",
        ("relationship_adjustment", "family_education"),
        ("economic_hardship", "left_behind", "guardianship_lacking"),
        (8, 16),
        "centre",
        "以8节小组活动帮助亲子双方学习沟通技巧、情绪管理和家庭规则制定，改善因长期分离或家庭变故造成的亲子隔阂。",
    ),
    (
        1,
        "走访核查·困境儿童动态排查",
        ("verification_visits", "home_visits"),
        (),
        (0, 17),
        "in_person",
        "协助街道对辖区困境儿童、重点儿童开展入户走访核查，更新一人一档信息，发现监护风险当日报告儿童督导员。",
    ),
    (
        1,
        "城中村儿童防溺水与居家安全教育",
        ("safety_education",),
        (),
        (3, 14),
        "in_person",
        "围绕“十防”（防溺水、防火、防触电、防拐骗、防性侵、防欺凌、防网络沉迷等）在水围、皇岗、沙嘴等城中村开展情景式安全教育和家长宣讲。",
    ),
    # 2 向阳花社工 (园岭/南园/华强北)
    (
        2,
        "向阳花·单亲家庭儿童成长支持",
        ("emotional_support", "family_education"),
        ("economic_hardship", "guardianship_lacking"),
        (6, 15),
        "mixed",
        "为单亲家庭儿童提供成长小组和个别陪伴，同时为单亲父母开设减压和教养支持沙龙。",
    ),
    (
        2,
        "困境儿童学业辅导与助学金申请协助",
        ("education_aid",),
        _K_HARD,
        (6, 17),
        "centre",
        "大学生志愿者每周两次学业辅导；社工协助家庭准备材料申请教育资助、助学金和学费减免。",
    ),
    (
        2,
        "困境儿童保障政策宣传进楼栋",
        ("policy_publicity",),
        (),
        (0, 17),
        "in_person",
        "在社区楼栋、城中村出租屋张贴困境儿童保障政策和强制报告指引，设置政策咨询摊位，帮助符合条件的家庭申请生活补贴。",
    ),
    (
        2,
        "南园片区困境家庭物资帮扶",
        ("material_aid", "targeted_assistance"),
        ("economic_hardship", "disabled", "seriously_ill"),
        (0, 17),
        "in_person",
        "根据儿童主任提交的需求清单，按季度为困境家庭配送米油、学习用品和季节衣物，并跟进使用情况。",
    ),
    # 3 同心圆社工 (梅林/莲花)
    (
        3,
        "困境儿童家庭教育指导“父母课堂”",
        ("family_education",),
        (),
        (0, 17),
        "centre",
        "每月两期父母课堂，内容涵盖正面管教、青春期沟通、电子产品使用约定，课后提供一对一家庭教育咨询。",
    ),
    (
        3,
        "困境家庭精准帮扶“一户一策”",
        ("targeted_assistance", "material_aid"),
        ("economic_hardship", "disabled", "seriously_ill", "de_facto_unsupported"),
        (0, 17),
        "in_person",
        "社工与儿童主任共同评估家庭需求，制定“一户一策”帮扶方案，链接就业、救助、医疗和教育资源。",
    ),
    (
        3,
        "梅林片区重点儿童定期探访",
        ("home_visits", "emotional_support"),
        ("guardianship_lacking", "disabled", "seriously_ill", "de_facto_unsupported"),
        (0, 17),
        "in_person",
        "对监护不力、失学辍学、重病重残等重点儿童每月至少探访一次，记录生活、学习和监护状况。",
    ),
    (
        3,
        "新市民子女社会融入“城市探索营”",
        ("social_integration",),
        ("left_behind", "economic_hardship"),
        (8, 14),
        "in_person",
        "带领随迁子女走进博物馆、图书馆、科技馆，认识城市公共资源，结交本地伙伴，增强归属感。",
    ),
    # 4 馨苑家综 (香蜜湖/华富)
    (
        4,
        "家庭关系调适与亲职辅导",
        ("relationship_adjustment", "family_education"),
        (),
        (0, 17),
        "centre",
        "针对父母离异、再婚重组、隔代抚养等家庭，提供家庭会谈和亲职辅导，协调家庭成员关系。",
    ),
    (
        4,
        "困境儿童假期临时照料",
        ("temporary_care",),
        ("left_behind", "guardianship_lacking", "economic_hardship"),
        (4, 12),
        "centre",
        "寒暑假期间为监护人因工作、住院等原因无法照看的儿童提供日间临时照料，含午餐和午休。",
    ),
    (
        4,
        "重病儿童家庭喘息服务",
        ("temporary_care", "emotional_support"),
        ("seriously_ill", "disabled"),
        (0, 17),
        "in_person",
        "为长期照顾重病、重残儿童的家庭提供每月8小时上门替代照护，让照顾者得到喘息。",
    ),
    (
        4,
        "华富片区困境儿童入户探访",
        ("home_visits",),
        (),
        (0, 17),
        "in_person",
        "社工与儿童主任结对入户，了解儿童生活学习状况和家庭需求，建立探访记录。",
    ),
    # 5 星语心理 (district-wide)
    (
        5,
        "儿童青少年心理危机干预",
        ("psych_counselling",),
        ("abused", "guardianship_lacking", "seriously_ill", "orphan"),
        (6, 17),
        "mixed",
        "对有自伤、自杀风险或遭遇重大生活事件的儿童提供24小时内响应的危机评估与干预，联动学校和医院。",
    ),
    (
        5,
        "遭受侵害儿童创伤知情心理治疗",
        ("psych_counselling", "emotional_support"),
        ("abused",),
        (4, 17),
        "centre",
        "采用创伤聚焦认知行为治疗和游戏治疗，为遭受侵害儿童提供12-16次个体治疗，并指导监护人提供支持。",
    ),
    (
        5,
        "“心晴”线上心理咨询（儿童及监护人）",
        ("psych_counselling",),
        (),
        (10, 17),
        "online",
        "通过视频为儿童及其监护人提供每次50分钟的心理咨询，适合行动不便或居住较远的家庭。",
    ),
    (
        5,
        "校园心理健康讲座与团体辅导",
        ("psych_counselling", "safety_education"),
        (),
        (8, 17),
        "in_person",
        "进校开展情绪管理、压力应对和防欺凌团体辅导，识别需要个别跟进的学生并转介学校社工。",
    ),
    # 6 暖阳社工 (沙头/香蜜湖)
    (
        6,
        "隔代抚养家庭儿童陪伴成长",
        ("emotional_support", "home_visits"),
        ("left_behind", "de_facto_unsupported", "orphan"),
        (3, 14),
        "in_person",
        "针对由祖辈抚养的儿童，志愿者每两周上门陪伴，协助祖辈解决作业辅导和电子产品使用难题。",
    ),
    (
        6,
        "困境儿童生日会与节日慰问",
        ("emotional_support", "material_aid"),
        (),
        (0, 17),
        "centre",
        "每季度为当季生日的困境儿童举办集体生日会，春节、中秋送上慰问品和手写祝福卡。",
    ),
    (
        6,
        "沙头片区困境儿童走访核查",
        ("verification_visits",),
        (),
        (0, 17),
        "in_person",
        "按季度对沙头、香蜜湖片区困境儿童开展走访核查，核对补贴发放和监护落实情况。",
    ),
    # 7 童心园社工 (华富/莲花)
    (
        7,
        "学龄前困境儿童早期发展指导",
        ("family_education", "rehabilitation"),
        ("disabled", "economic_hardship"),
        (0, 6),
        "in_person",
        "为0-6岁困境儿童家庭提供发育筛查、亲子游戏指导和早期干预建议，发现发育迟缓及时转介。",
    ),
    (
        7,
        "自闭症儿童社交融合小组",
        ("social_integration", "rehabilitation", "special_education"),
        ("disabled",),
        (4, 12),
        "centre",
        "以结构化教学和同伴支持为自闭症谱系儿童开展社交技能小组，每期10节，家长同步参与。",
    ),
    (
        7,
        "莲花片区儿童安全“十防”课堂",
        ("safety_education",),
        (),
        (4, 12),
        "centre",
        "通过情景剧、绘本和演练，向儿童讲授防溺水、防火、防拐骗、防性侵等“十防”知识。",
    ),
    # 8 彩虹桥青少年 (district-wide)
    (
        8,
        "青少年网络沉迷行为矫治",
        ("behaviour_correction", "psych_counselling"),
        (),
        (10, 17),
        "mixed",
        "评估网络使用问题程度，制定个别化矫治计划，结合家庭约定和替代活动帮助青少年恢复规律作息。",
    ),
    (
        8,
        "不良行为青少年“临界预防”帮教",
        ("behaviour_correction", "social_integration"),
        ("guardianship_lacking", "street_child", "economic_hardship"),
        (12, 17),
        "in_person",
        "对有逃学、夜不归宿、结伙滋事等不良行为的青少年开展帮教，联动学校、派出所和家庭共同干预。",
    ),
    (
        8,
        "校园欺凌预防与同伴调解",
        ("safety_education", "relationship_adjustment"),
        (),
        (8, 16),
        "in_person",
        "培训学生调解员，开展防欺凌主题班会，对已发生的欺凌事件进行修复式调解。",
    ),
    (
        8,
        "辍学及失学青少年复学支持",
        ("education_aid", "social_integration"),
        ("guardianship_lacking", "economic_hardship", "left_behind", "street_child"),
        (12, 17),
        "in_person",
        "摸查辍学原因，协调学校和教育部门落实复学或转入职业教育，复学后跟踪一学期。",
    ),
    # 9 晨曦社工 (梅林)
    (
        9,
        "梅林片区困境儿童“微心愿”圆梦",
        ("material_aid", "emotional_support"),
        (),
        (3, 14),
        "in_person",
        "收集困境儿童的微心愿（书包、书籍、运动鞋等），在社区公开认领，由志愿者送到儿童手中。",
    ),
    (
        9,
        "流动儿童暑期社区融入营",
        ("social_integration", "safety_education"),
        ("left_behind", "economic_hardship"),
        (7, 13),
        "centre",
        "暑期两周夏令营，内容包括社区探索、安全自护、团队游戏和才艺展示。",
    ),
    (
        9,
        "梅林街道儿童主任业务督导",
        ("director_training",),
        (),
        (0, 17),
        "centre",
        "资深社工每月到社区对儿童主任开展个案督导，协助梳理疑难个案、规范台账。",
    ),
    # 10 和悦家庭 (南园/福保)
    (
        10,
        "高冲突家庭亲子关系修复",
        ("relationship_adjustment", "psych_counselling"),
        ("guardianship_lacking", "abused", "economic_hardship"),
        (6, 17),
        "centre",
        "针对家庭暴力风险较高或亲子冲突激烈的家庭，开展家庭治疗和冲突调解，降低再次冲突风险。",
    ),
    (
        10,
        "福保片区困境儿童家庭探访",
        ("home_visits", "verification_visits"),
        (),
        (0, 17),
        "in_person",
        "每月入户探访，核查儿童生活、就学、监护情况，发现异常及时报告。",
    ),
    (
        10,
        "监护人法治与家庭教育促进法宣讲",
        ("policy_publicity", "family_education"),
        (),
        (0, 17),
        "centre",
        "结合《未成年人保护法》《家庭教育促进法》，以案说法讲解监护人职责与法律后果。",
    ),
    # 11 青苗成长 (园岭/华强北)
    (
        11,
        "华强北片区“小候鸟”暑期托管",
        ("temporary_care", "safety_education"),
        ("left_behind", "economic_hardship"),
        (6, 12),
        "centre",
        "暑假期间为来深团聚的“小候鸟”提供日间托管、安全教育和城市体验活动。",
    ),
    (
        11,
        "困境儿童成长导师结对计划",
        ("emotional_support", "education_aid"),
        _K_HARD,
        (8, 17),
        "mixed",
        "招募职场志愿者担任成长导师，与困境儿童一对一结对一年，每月至少见面两次。",
    ),
    (
        11,
        "园岭街道儿童主任朋辈督导",
        ("director_training",),
        (),
        (0, 17),
        "centre",
        "组织儿童主任朋辈互助小组，每双月一次案例分享和工作方法交流。",
    ),
    # 12 守望者社工 (hotline)
    (
        12,
        "福田区未成年人保护热线运行（对接12355）",
        ("hotline", "psych_counselling"),
        (),
        (0, 17),
        "phone",
        "7×24小时受理未成年人保护求助、咨询和线索报告，提供即时心理支持并按分级响应流程转介。",
    ),
    (
        12,
        "强制报告线索受理与分流",
        ("hotline", "verification_visits"),
        (),
        (0, 17),
        "phone",
        "受理学校、医院、社区等强制报告义务主体的报告，2小时内完成分级并推送街道和公安，跟踪处置结果。",
    ),
    (
        12,
        "夜间及节假日应急值守与转介",
        ("hotline", "temporary_care"),
        ("abused", "guardianship_lacking", "street_child"),
        (0, 17),
        "phone",
        "夜间和节假日安排社工值守，遇儿童独处、走失、监护缺失等紧急情况协调救助保护中心临时照料。",
    ),
    # 13 同行司法社工
    (
        13,
        "涉案未成年人司法社工支持",
        ("legal_aid", "behaviour_correction"),
        (),
        (12, 17),
        "in_person",
        "为涉案未成年人提供社会调查、合适成年人到场、附条件不起诉考察帮教等司法社工服务。",
    ),
    (
        13,
        "遭受侵害儿童“一站式”取证陪伴",
        ("legal_aid", "emotional_support"),
        ("abused",),
        (3, 17),
        "in_person",
        "在“一站式”询问救助场所陪伴遭受侵害儿童完成询问取证，减少二次伤害，并链接心理和法律援助。",
    ),
    (
        13,
        "监护权纠纷法律咨询与监护干预协助",
        ("legal_aid", "guardianship_assessment"),
        _K_GUARD,
        (0, 17),
        "mixed",
        "为监护权变更、撤销监护资格等案件提供法律咨询，协助民政部门收集证据、参与监护干预。",
    ),
    # 14 关爱儿童基金会
    (
        14,
        "困境儿童大病医疗救助金",
        ("medical_aid",),
        ("seriously_ill", "disabled", "hiv_affected", "economic_hardship"),
        (0, 17),
        "mixed",
        "对医保报销后自付费用较高的困境儿童给予一次性医疗救助，单次最高3000元。",
    ),
    (
        14,
        "孤儿及事实无人抚养儿童助学金",
        ("education_aid",),
        ("orphan", "de_facto_unsupported"),
        (6, 17),
        "mixed",
        "每学年资助学杂费和生活费，高中及中职阶段另资助住宿费。",
    ),
    (
        14,
        "“暖冬”困境儿童物资包发放",
        ("material_aid",),
        (),
        (0, 17),
        "in_person",
        "每年11月至次年1月为困境儿童发放冬衣、被褥、文具和营养品组成的物资包。",
    ),
    # 15 福苗助学会
    (
        15,
        "“福苗”助学金（小学至高中）",
        ("education_aid",),
        ("economic_hardship", "left_behind", "orphan", "de_facto_unsupported", "disabled"),
        (6, 17),
        "mixed",
        "按学段每学期资助800-2000元，连续资助至高中毕业，每学期回访学业情况。",
    ),
    (
        15,
        "困境儿童学习用品及电脑捐赠",
        ("education_aid", "material_aid"),
        _K_HARD,
        (6, 17),
        "in_person",
        "开学前为困境儿童配送书包、文具，为初高中学生捐赠翻新电脑。",
    ),
    # 16 晴天康复
    (
        16,
        "残疾儿童居家康复指导",
        ("rehabilitation", "home_visits"),
        ("disabled",),
        (0, 17),
        "in_person",
        "康复治疗师每两周上门评估，指导家长开展日常康复训练和居家环境调整。",
    ),
    (
        16,
        "脑瘫儿童运动康复训练",
        ("rehabilitation", "medical_aid"),
        ("disabled",),
        (1, 12),
        "centre",
        "在机构内开展一对一运动疗法和作业疗法训练，每周3次。",
    ),
    (
        16,
        "言语及语言发育迟缓儿童康复训练",
        ("rehabilitation", "special_education"),
        ("disabled",),
        (2, 10),
        "centre",
        "言语治疗师开展构音、语言理解与表达训练，每周2次，每学期出具评估报告。",
    ),
    # 17 书香童年
    (
        17,
        "流动书箱进社区·困境儿童阅读陪伴",
        ("education_aid", "emotional_support"),
        (),
        (3, 12),
        "centre",
        "在社区党群服务中心设流动书箱，志愿者每周末陪伴困境儿童阅读，建立阅读成长档案。",
    ),
    (
        17,
        "亲子共读家庭教育工作坊",
        ("family_education",),
        (),
        (0, 10),
        "centre",
        "指导家长掌握亲子共读方法，借助绘本改善亲子互动，每期4次。",
    ),
    # 18 沙头街道基金会
    (
        18,
        "沙头街道困境儿童“民生微实事”助学项目",
        ("education_aid", "material_aid"),
        _K_HARD,
        (6, 17),
        "in_person",
        "利用民生微实事资金为沙头街道困境儿童提供学习用品和课外辅导补贴。",
    ),
    (
        18,
        "沙头街道困境家庭应急救助金",
        ("targeted_assistance", "medical_aid"),
        ("economic_hardship", "seriously_ill", "disabled"),
        (0, 17),
        "mixed",
        "家庭因突发疾病、意外事故陷入困境时给予临时救助，经社区评议后3个工作日内发放。",
    ),
    # 19 香蜜湖街道基金会
    (
        19,
        "香蜜湖街道困境儿童节日关爱",
        ("material_aid", "emotional_support"),
        (),
        (0, 17),
        "in_person",
        "春节、六一、中秋为困境儿童送上慰问品，组织志愿者陪伴过节。",
    ),
    (
        19,
        "香蜜湖街道儿童友好社区营造",
        ("social_integration", "policy_publicity"),
        (),
        (6, 17),
        "in_person",
        "组建儿童议事会，让儿童参与社区空间改造和公共事务讨论，宣传儿童权利。",
    ),
    # 20 暖心衣橱
    (
        20,
        "暖心衣橱·困境儿童四季衣物",
        ("material_aid",),
        (),
        (0, 17),
        "in_person",
        "按儿童身高尺码配送全新或九成新四季衣物和鞋子，每季度一次。",
    ),
    (
        20,
        "困境家庭生活物资精准配送",
        ("material_aid", "targeted_assistance"),
        ("economic_hardship", "disabled", "seriously_ill", "de_facto_unsupported"),
        (0, 17),
        "in_person",
        "根据儿童主任提交的清单每月配送米面油、奶粉、纸尿裤等生活物资。",
    ),
    # 21 区青志协
    (
        21,
        "“大手牵小手”志愿者学业陪伴",
        ("education_aid", "emotional_support"),
        (),
        (6, 14),
        "mixed",
        "大学生志愿者每周线上或线下辅导作业一次，兼顾心理陪伴。",
    ),
    (
        21,
        "寒暑假儿童安全志愿巡查",
        ("safety_education",),
        (),
        (3, 17),
        "in_person",
        "假期在河道、工地、城中村巷道开展安全巡查和防溺水劝导，发放安全提示卡。",
    ),
    # 22 蓝盾安全
    (
        22,
        "防溺水与游泳安全技能培训",
        ("safety_education",),
        (),
        (7, 14),
        "centre",
        "由持证救生员教授游泳和自救技能，每期8课时，结业考核合格颁发证书。",
    ),
    (
        22,
        "儿童防性侵“我的身体我做主”课堂",
        ("safety_education", "policy_publicity"),
        (),
        (4, 12),
        "in_person",
        "以绘本和角色扮演帮助儿童认识身体边界、学会拒绝和求助，并向家长讲解强制报告制度。",
    ),
    # 23 巾帼志协
    (
        23,
        "巾帼志愿者入户关爱困境儿童",
        ("home_visits", "emotional_support"),
        (),
        (0, 17),
        "in_person",
        "巾帼志愿者与困境儿童结对，每月上门陪伴，协助儿童主任发现需求。",
    ),
    (
        23,
        "“妈妈课堂”家庭教育指导",
        ("family_education",),
        (),
        (0, 12),
        "centre",
        "由有经验的妈妈志愿者和家庭教育指导师讲授育儿知识，开展经验交流。",
    ),
    # 24 区妇联
    (
        24,
        "妇女儿童维权法律援助",
        ("legal_aid", "relationship_adjustment"),
        (),
        (0, 17),
        "mixed",
        "为涉及抚养费、探望权、家庭暴力的妇女儿童提供法律咨询、调解和法律援助转介。",
    ),
    (
        24,
        "家庭教育指导服务站“家长学校”",
        ("family_education", "policy_publicity"),
        (),
        (0, 17),
        "centre",
        "依托社区家庭教育指导服务站开设家长学校，每学期不少于4次公益讲座。",
    ),
    (
        24,
        "反家庭暴力儿童庇护与转介",
        ("temporary_care", "legal_aid"),
        ("abused", "guardianship_lacking"),
        (0, 17),
        "mixed",
        "对目睹或遭受家庭暴力的儿童提供临时庇护转介，协助申请人身安全保护令。",
    ),
    # 25 团区委
    (
        25,
        "12355青少年服务台心理与法律咨询",
        ("hotline", "psych_counselling", "legal_aid"),
        (),
        (6, 17),
        "phone",
        "12355热线提供心理咨询和法律咨询，工作日9:00-21:00人工接听。",
    ),
    (
        25,
        "青少年自护教育“护航成长”",
        ("safety_education", "behaviour_correction"),
        (),
        (10, 17),
        "in_person",
        "进校进社区开展禁毒、防诈骗、网络安全和自我保护教育。",
    ),
    # 26 区残联
    (
        26,
        "送教上门·重度残疾儿童",
        ("home_schooling", "special_education"),
        ("disabled",),
        (6, 17),
        "in_person",
        "为无法到校就读的重度残疾适龄儿童提供每周2次、每次2课时的送教上门服务，制定个别化教育计划。",
    ),
    (
        26,
        "残疾儿童康复救助申请指导",
        ("rehabilitation", "policy_publicity", "medical_aid"),
        ("disabled",),
        (0, 17),
        "centre",
        "指导家庭申请残疾儿童康复救助、辅具补贴和残疾证办理，协助对接定点康复机构。",
    ),
    (
        26,
        "残疾儿童辅具适配与无障碍改造",
        ("rehabilitation", "material_aid"),
        ("disabled",),
        (0, 17),
        "in_person",
        "评估辅具需求，适配轮椅、助行器等辅具，为家庭实施卫生间、门槛等无障碍改造。",
    ),
    # 27 鹏程福康
    (
        27,
        "困境儿童免费口腔及视力筛查",
        ("medical_aid",),
        (),
        (3, 14),
        "in_person",
        "企业医护志愿者进社区为困境儿童免费检查口腔和视力，发现问题提供配镜和治疗补贴。",
    ),
    (
        27,
        "“福康”重病儿童医疗器械捐赠",
        ("medical_aid", "material_aid"),
        ("seriously_ill", "disabled"),
        (0, 17),
        "in_person",
        "为重病、重残儿童家庭捐赠制氧机、雾化器、血糖仪等居家医疗器械。",
    ),
    # 28 莲花山文化
    (
        28,
        "困境儿童艺术疗愈工作坊",
        ("psych_counselling", "social_integration"),
        (),
        (6, 15),
        "centre",
        "通过绘画、音乐和戏剧帮助儿童表达情绪、建立自信，每期6次。",
    ),
    (
        28,
        "“小小讲解员”儿童友好城市研学",
        ("social_integration",),
        (),
        (8, 14),
        "in_person",
        "带领困境儿童走访莲花山、市民中心和图书馆，培训儿童担任讲解员。",
    ),
    # 29 华强北数码
    (
        29,
        "困境儿童网课设备捐赠与上网安全",
        ("education_aid", "safety_education", "material_aid"),
        _K_HARD,
        (8, 17),
        "in_person",
        "捐赠平板电脑并预装家长管控软件，同步开展网络安全和防沉迷课程。",
    ),
    (
        29,
        "青少年编程兴趣课堂",
        ("education_aid", "social_integration"),
        (),
        (9, 15),
        "centre",
        "员工志愿者每周六教授图形化编程和硬件入门，期末举办作品展。",
    ),
    # 30 区妇幼保健院
    (
        30,
        "0-6岁困境儿童健康体检与发育评估",
        ("medical_aid", "rehabilitation"),
        (),
        (0, 6),
        "centre",
        "为0-6岁困境儿童提供免费健康体检、生长发育和心理行为发育评估，建立健康档案。",
    ),
    (
        30,
        "高危儿早期干预与随访",
        ("rehabilitation", "medical_aid"),
        ("disabled", "seriously_ill"),
        (0, 3),
        "centre",
        "对早产、低出生体重等高危儿定期随访，开展早期干预训练指导。",
    ),
    # 31 区特教资源中心
    (
        31,
        "融合教育巡回指导",
        ("special_education", "social_integration"),
        ("disabled",),
        (6, 15),
        "in_person",
        "特教教师巡回到普通学校指导随班就读残疾学生的个别化教育和课堂支持。",
    ),
    (
        31,
        "送教上门课程与家长培训",
        ("home_schooling", "special_education", "family_education"),
        ("disabled",),
        (6, 17),
        "in_person",
        "为送教上门学生编制生活适应、沟通与认知课程，并培训家长在家延续教学。",
    ),
    # 32 区未成年人救助保护中心
    (
        32,
        "困境儿童临时照料（救助保护室）",
        ("temporary_care", "guardianship_assessment"),
        ("abused", "guardianship_lacking", "street_child", "de_facto_unsupported"),
        (0, 17),
        "centre",
        "为监护人暂时无法履行监护职责的儿童提供临时监护和照料，入住期间开展监护评估并制定回归方案。",
    ),
    (
        32,
        "流浪及走失儿童接送返家",
        ("temporary_care", "social_integration"),
        ("street_child",),
        (0, 17),
        "in_person",
        "对流浪、走失儿童提供临时安置，核实身份后护送返家或移交户籍地，返家后跟踪回访。",
    ),
    (
        32,
        "长期监护儿童家庭寄养评估",
        ("guardianship_assessment",),
        ("orphan", "de_facto_unsupported"),
        (0, 17),
        "in_person",
        "对拟家庭寄养的儿童和寄养家庭进行评估与匹配，寄养后定期回访。",
    ),
    # 33 福荔餐饮 (pending organization)
    (
        33,
        "困境儿童营养午餐“爱心饭堂”",
        ("material_aid",),
        ("economic_hardship", "left_behind"),
        (6, 14),
        "centre",
        "在合作社区食堂为困境儿童提供工作日营养午餐。",
    ),
)

# Non-published services for moderation demos: title → status.
_STATUS_OVERRIDES: Final[dict[str, str]] = {
    "困境儿童“四点半课堂”课后托管": "draft",
    "“小小讲解员”儿童友好城市研学": "draft",
    "青少年编程兴趣课堂": "pending_review",
    "困境儿童艺术疗愈工作坊": "pending_review",
    "困境儿童营养午餐“爱心饭堂”": "pending_review",
    "高冲突家庭亲子关系修复": "paused",
    "脑瘫儿童运动康复训练": "paused",
}

_SCHEDULES: Final[tuple[str, ...]] = (
    "每周六 9:00-11:30",
    "每周六 14:30-17:00",
    "每周日 9:30-11:30",
    "周一至周五 16:30-18:30",
    "周一至周五 9:00-17:30，预约制",
    "每月第二、四个周六 9:00-12:00",
    "每周三 19:00-20:30",
    "按个案预约上门",
    "每季度集中开展一次，另可预约",
    "寒暑假周一至周五 8:30-17:30",
)


def _schedule(rng: random.Random, title: str, mode: str) -> str:
    if "四点半" in title:
        return "周一至周五 16:30-18:30"
    if any(word in title for word in ("假期", "暑期", "寒暑假")):
        return "寒暑假周一至周五 8:30-17:30"
    if mode == "online":
        return "周一至周五 19:00-21:00，预约制"
    if mode == "in_person":
        return rng.choice(("按个案预约上门", "周一至周五 9:00-17:30，预约制", "每季度集中开展一次，另可预约"))
    return rng.choice([s for s in _SCHEDULES if "寒暑假" not in s and "上门" not in s])


_FUNDING_BY_KIND: Final[dict[str, tuple[str, ...]]] = {
    "social_work_agency": ("special_budget", "special_budget", "micro_project", "lottery_fund", "welfare_fund"),
    "charity": ("welfare_fund", "self_funded", "self_funded", "lottery_fund"),
    "volunteer_org": ("free", "free", "micro_project"),
    "mass_org": ("special_budget", "free"),
    "enterprise": ("enterprise_csr",),
    "public_institution": ("special_budget", "free"),
}

_SOCIETIES_BY_KIND: Final[dict[str, tuple[str, ...]]] = {
    "social_work_agency": ("social_organization", "social_worker"),
    "charity": ("social_organization", "charity"),
    "volunteer_org": ("social_organization", "volunteer"),
    "mass_org": ("community", "volunteer"),
    "enterprise": ("charity",),
    "public_institution": ("community",),
}


def _eligibility(
    cats: tuple[str, ...], kids: tuple[str, ...], age_min: int, age_max: int, streets: tuple[str, ...]
) -> str:
    if cats == ("director_training",):
        where = "、".join(STREET_BY_CODE[s].name for s in streets) if streets else "全区"
        return f"{where}社区儿童主任、街道儿童督导员及未成年人保护工作站工作人员；由街道统一报名。"
    who = "、".join(CHILD_CATEGORIES[k] for k in kids) if kids else "各类困境儿童及重点儿童"
    where = "、".join(STREET_BY_CODE[s].name for s in streets) if streets else "福田区"
    return f"{where}内{age_min}-{age_max}岁的{who}（含其监护人）；由社区儿童主任转介或家庭自行申请，需经社工评估。"


def _build_services() -> tuple[Service, ...]:
    out: list[Service] = []
    for org_i, title, cats, kids, (age_min, age_max), mode, desc in _SERVICE_ROWS:
        org = ORGANIZATIONS[org_i]
        streets = org.street_codes
        if "街道" in title and not streets:
            streets = tuple(s.code for s in STREETS if s.name in title)
        funding = _rng.choice(_FUNDING_BY_KIND[org.kind])
        if "微实事" in title:
            funding = "micro_project"
        free = funding in ("free", "self_funded", "enterprise_csr")
        cost = 0 if free else _rng.randrange(20_000, 300_001, 5_000)
        if cost == 0:
            fees = "免费"
        else:
            source = FUNDING_SOURCES[funding]
            fees = f"对儿童及家庭免费；由{source}按每案{cost // 100}元结算"
        if mode == "phone":
            wait, schedule = 0, "工作日 9:00-21:00" if "12355" in title and org.kind == "mass_org" else "7×24小时"
            capacity = _rng.randint(40, 60)
        else:
            wait = _rng.choice((0, 1, 3, 3, 5, 7, 7, 10, 14, 21))
            schedule = _schedule(_rng, title, mode)
            capacity = _rng.randint(3, 40) if "temporary_care" in cats else _rng.randint(5, 60)
        societies = list(_SOCIETIES_BY_KIND[org.kind])
        if "volunteer" not in societies and _rng.random() < 0.3:
            societies.append("volunteer")
        if streets and "community" not in societies and _rng.random() < 0.5:
            societies.append("community")
        stale = _rng.random() < 0.12
        assured = _rng.randint(181, 420) if stale else _rng.randint(3, 170)
        status = _STATUS_OVERRIDES.get(title, "published")
        out.append(
            Service(
                organization_index=org_i,
                title=title,
                description=desc,
                eligibility=_eligibility(cats, kids, age_min, age_max, streets),
                categories=cats,
                child_categories=kids or ALL_CHILD_CATEGORIES,
                age_min=age_min,
                age_max=age_max,
                street_codes=streets,
                capacity_per_month=capacity,
                cost_per_case_fen=cost,
                delivery_mode=mode,
                funding_source=funding,
                schedule=schedule,
                wait_time_days=wait,
                fees_text=fees,
                five_societies=tuple(s for s in FIVE_SOCIETIES if s in societies),
                assured_days_ago=assured,
                status=status,
            )
        )
    return tuple(out)


SERVICES: Final[tuple[Service, ...]] = _build_services()


# ---------------------------------------------------------------------------------------------------------
# Users (one demo login per role, plus a supervisor per street, a director per community, staff per org)
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    password: str
    role: str  # district_admin | child_supervisor | child_director | org_staff | fund_manager | ...
    display_name: str
    phone: str
    street_code: str | None = None
    community_code: str | None = None
    organization_index: int | None = None
    # The organization's own admin (role org_staff): manages the organization's staff accounts.
    is_org_admin: bool = False


ROLES: Final[dict[str, str]] = {
    "child_director": "儿童主任",
    "child_supervisor": "儿童督导员",
    "org_staff": "社会组织工作人员",
    "fund_manager": "基金管理员",
    "procurement_officer": "采购经办人",
    "district_admin": "区民政局儿童福利科",
    "auditor": "审计/纪检",
}

DEMO_SUPERVISOR_STREET: Final[str] = "futian"
DEMO_DIRECTOR_COMMUNITY: Final[str] = "fushan"  # 福田街道福山社区
DEMO_ORG_INDEX: Final[int] = 0


def _build_users() -> tuple[DemoUser, ...]:
    def person() -> str:
        return _name(_rng, _rng.choice(("male", "female", "female")), adult=True)

    users: list[DemoUser] = [
        DemoUser("admin", DEMO_PASSWORD, "district_admin", f"{person()}（儿童福利科）", _staff_phones.next()),
    ]
    for street in STREETS:
        username = "supervisor" if street.code == DEMO_SUPERVISOR_STREET else f"sup-{street.code}"
        users.append(
            DemoUser(
                username,
                DEMO_PASSWORD,
                "child_supervisor",
                f"{person()}（{street.name}督导员）",
                _staff_phones.next(),
                street_code=street.code,
            )
        )
    for community in COMMUNITIES:
        username = "director" if community.code == DEMO_DIRECTOR_COMMUNITY else f"dir-{community.code}"
        users.append(
            DemoUser(
                username,
                DEMO_PASSWORD,
                "child_director",
                f"{person()}（{community.name}儿童主任）",
                _staff_phones.next(),
                street_code=community.street_code,
                community_code=community.code,
            )
        )
    org0 = ORGANIZATIONS[DEMO_ORG_INDEX]
    users.append(
        DemoUser(
            "org",
            DEMO_PASSWORD,
            "org_staff",
            f"{person()}（{org0.short_name}）",
            _staff_phones.next(),
            organization_index=DEMO_ORG_INDEX,
        )
    )
    for org in ORGANIZATIONS:
        users.append(
            DemoUser(
                f"org-{org.index + 1}",
                DEMO_PASSWORD,
                "org_staff",
                f"{org.contact_name}（{org.short_name}）",
                org.contact_phone,
                organization_index=org.index,
                is_org_admin=True,
            )
        )
    users.append(DemoUser("fund", DEMO_PASSWORD, "fund_manager", f"{person()}（公益基金）", _staff_phones.next()))
    users.append(
        DemoUser("procurement", DEMO_PASSWORD, "procurement_officer", f"{person()}（采购）", _staff_phones.next())
    )
    users.append(DemoUser("auditor", DEMO_PASSWORD, "auditor", f"{person()}（审计）", _staff_phones.next()))
    return tuple(users)


USERS: Final[tuple[DemoUser, ...]] = _build_users()
USER_BY_USERNAME: Final[dict[str, DemoUser]] = {u.username: u for u in USERS}


# ---------------------------------------------------------------------------------------------------------
# Social workers and volunteer teams
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SocialWorker:
    name: str
    gender: str  # male | female
    organization_index: int
    qualification: str  # 助理社会工作师 | 社会工作师 | 高级社会工作师
    specialties: tuple[str, ...]  # SERVICE_CATEGORIES codes
    street_codes: tuple[str, ...]
    phone: str
    years_experience: int


QUALIFICATIONS: Final[tuple[str, ...]] = ("助理社会工作师", "社会工作师", "高级社会工作师")


def _build_social_workers(n: int = 60) -> tuple[SocialWorker, ...]:
    agencies = [o for o in ORGANIZATIONS if o.kind == "social_work_agency"]
    out: list[SocialWorker] = []
    for i in range(n):
        org = agencies[i % len(agencies)]
        org_cats = sorted({c for s in SERVICES if s.organization_index == org.index for c in s.categories})
        gender = "female" if _rng.random() < 0.72 else "male"
        qualification = _rng.choices(QUALIFICATIONS, weights=(50, 40, 10))[0]
        years = {"助理社会工作师": (1, 6), "社会工作师": (3, 12), "高级社会工作师": (8, 20)}[qualification]
        streets = org.street_codes or tuple(
            sorted(_rng.sample([s.code for s in STREETS], _rng.randint(1, 3)), key=_street_order)
        )
        out.append(
            SocialWorker(
                name=_name(_rng, gender, adult=True),
                gender=gender,
                organization_index=org.index,
                qualification=qualification,
                specialties=tuple(_rng.sample(org_cats, min(len(org_cats), _rng.randint(1, 3)))),
                street_codes=streets,
                phone=_staff_phones.next(),
                years_experience=_rng.randint(*years),
            )
        )
    return tuple(out)


def _street_order(code: str) -> int:
    return [s.code for s in STREETS].index(code)


SOCIAL_WORKERS: Final[tuple[SocialWorker, ...]] = _build_social_workers()


@dataclass(frozen=True, slots=True)
class VolunteerTeam:
    name: str
    street_code: str
    community_code: str  # the community where the team is based
    member_count: int
    skills: tuple[str, ...]  # SERVICE_CATEGORIES codes
    leader_name: str
    leader_phone: str


_VOLUNTEER_SKILLS: Final[tuple[str, ...]] = (
    "emotional_support",
    "safety_education",
    "home_visits",
    "education_aid",
    "material_aid",
    "policy_publicity",
    "social_integration",
    "family_education",
)
_SECOND_TEAMS: Final[tuple[str, ...]] = (
    "青年志愿服务队",
    "护苗志愿服务队",
    "党员先锋志愿服务队",
    "“五老”关爱下一代志愿服务队",
    "大学生支教志愿服务队",
)


def _build_volunteer_teams() -> tuple[VolunteerTeam, ...]:
    out: list[VolunteerTeam] = []
    for i, street in enumerate(STREETS):
        names = [f"{street.name}巾帼志愿服务队"]
        if i % 2 == 0 or street.code == "futian":
            names.append(f"{street.name}{_SECOND_TEAMS[i % len(_SECOND_TEAMS)]}")
        for team_name in names:
            base = _rng.choice(communities_of(street.code))
            out.append(
                VolunteerTeam(
                    name=team_name,
                    street_code=street.code,
                    community_code=base.code,
                    member_count=_rng.randint(20, 180),
                    skills=tuple(_rng.sample(_VOLUNTEER_SKILLS, _rng.randint(2, 4))),
                    leader_name=_name(_rng, _rng.choice(("male", "female")), adult=True),
                    leader_phone=_staff_phones.next(),
                )
            )
    return tuple(out)


VOLUNTEER_TEAMS: Final[tuple[VolunteerTeam, ...]] = _build_volunteer_teams()


# ---------------------------------------------------------------------------------------------------------
# Donors, donations and the 2026 special budget
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Donor:
    name: str
    kind: str  # enterprise | individual
    consent_to_name: bool  # may be named in the fund's public accounts
    phone: str | None
    credit_code: str | None  # enterprises only


@dataclass(frozen=True, slots=True)
class Donation:
    donor_index: int
    amount_fen: int
    donated_on: date
    days_ago: int
    channel: str  # stripe | bank_transfer | cash | in_kind
    restricted_category: str | None  # 定向 to a SERVICE_CATEGORIES code
    restricted_street: str | None  # 定向 to a street code
    note: str

    @property
    def restricted(self) -> bool:
        return self.restricted_category is not None or self.restricted_street is not None


DONATION_CHANNELS: Final[dict[str, str]] = {
    "stripe": "线上支付",
    "bank_transfer": "银行转账",
    "cash": "现金",
    "in_kind": "实物捐赠（折价）",
}

# Enterprise donors: (name, amount yuan, channel, restricted category, restricted street, note)
_ENTERPRISE_DONATIONS: Final[tuple[tuple[str, int, str, str | None, str | None, str], ...]] = (
    ("深圳市鹏程福康医疗科技有限公司", 50_000, "bank_transfer", "medical_aid", None, "定向困境儿童医疗救助"),
    ("深圳市华强北数码科技有限公司", 30_000, "in_kind", "education_aid", None, "捐赠平板电脑60台（折价）"),
    ("深圳市莲花山文化传播有限公司", 20_000, "bank_transfer", None, None, "非定向捐赠"),
    ("深圳市福荔餐饮管理有限公司", 10_000, "in_kind", "material_aid", "futian", "捐赠营养餐券（折价）"),
    ("深圳市深蓝海国际贸易有限公司", 40_000, "bank_transfer", None, "shatou", "定向沙头街道困境儿童"),
    ("深圳市中福物业管理有限公司", 25_000, "bank_transfer", None, None, "非定向捐赠"),
    ("深圳市金田路商贸有限公司", 15_000, "bank_transfer", "psych_counselling", None, "定向心理疏导服务"),
)
_INDIVIDUAL_AMOUNTS_YUAN: Final[tuple[int, ...]] = (
    100,
    200,
    200,
    300,
    500,
    500,
    666,
    800,
    1000,
    1000,
    1888,
    2000,
    3000,
    5000,
)
_INDIVIDUAL_DONORS: Final[int] = 40


def _days_back(rng: random.Random, max_days: int) -> tuple[date, int]:
    days = rng.randint(1, max_days)
    return REFERENCE_DATE - timedelta(days=days), days


def _build_donors_and_donations() -> tuple[tuple[Donor, ...], tuple[Donation, ...]]:
    donors: list[Donor] = []
    donations: list[Donation] = []
    enterprise_index = {o.name: o for o in ORGANIZATIONS}
    taken: set[str] = set()
    for name, yuan, channel, cat, street, note in _ENTERPRISE_DONATIONS:
        org = enterprise_index.get(name)
        code = org.credit_code if org else credit_code.make("9", "1", "440300", _org_body(_rng, "enterprise", taken))
        donors.append(Donor(name=name, kind="enterprise", consent_to_name=True, phone=None, credit_code=code))
        on, days = _days_back(_rng, 360)
        donations.append(Donation(len(donors) - 1, yuan * 100, on, days, channel, cat, street, note))
    first_individual = len(donors)
    for _ in range(_INDIVIDUAL_DONORS):
        consent = _rng.random() < 0.6
        donors.append(
            Donor(
                name=_name(_rng, _rng.choice(("male", "female")), adult=True),
                kind="individual",
                consent_to_name=consent,
                phone=_staff_phones.next() if _rng.random() < 0.7 else None,
                credit_code=None,
            )
        )
    remaining = FUND_RAISED_FEN - sum(d.amount_fen for d in donations)
    streets = [s.code for s in STREETS]
    cats = ("education_aid", "medical_aid", "material_aid", "psych_counselling", "emotional_support")
    while remaining > 0:
        amount = _rng.choice(_INDIVIDUAL_AMOUNTS_YUAN) * 100
        if remaining - amount < 10_000:  # keep the last gift at least 100 yuan
            amount = remaining
        remaining -= amount
        donor = _rng.randrange(first_individual, len(donors))
        channel = _rng.choices(("stripe", "bank_transfer", "cash", "in_kind"), weights=(60, 20, 15, 5))[0]
        roll = _rng.random()
        cat = _rng.choice(cats) if roll < 0.15 else None
        street = _rng.choice(streets) if 0.15 <= roll < 0.25 else None
        note = (
            "实物捐赠（图书、文具，折价）" if channel == "in_kind" else ("定向捐赠" if cat or street else "非定向捐赠")
        )
        on, days = _days_back(_rng, 365)
        donations.append(Donation(donor, amount, on, days, channel, cat, street, note))
    donations.sort(key=lambda d: (d.donated_on, d.donor_index, d.amount_fen))
    return tuple(donors), tuple(donations)


DONORS, DONATIONS = _build_donors_and_donations()


@dataclass(frozen=True, slots=True)
class BudgetLine:
    code: str
    name: str
    amount_fen: int
    note: str


BUDGET_YEAR: Final[int] = 2026
BUDGET_NAME: Final[str] = "2026年福田区未成年人保护专项资金"
BUDGET_2026: Final[tuple[BudgetLine, ...]] = (
    BudgetLine("director_post_subsidy", "儿童主任岗位补贴", 55_200_000, "92名社区儿童主任 × 500元/月 × 12个月"),
    BudgetLine("activity_funds", "活动资金", 22_600_000, "92个社区 × 2,000元 + 10个街道工作站 × 4,200元"),
    BudgetLine(
        "purchase_of_services",
        "购买服务",
        139_200_000,
        "热线运行、走访核查、监护评估、精准帮扶、心理服务等政府购买服务",
    ),
    BudgetLine("training", "培训", 13_000_000, "儿童主任、督导员业务培训及督导"),
    BudgetLine(
        "living_allowance",
        "生活补贴",
        149_000_000,
        "困境儿童基本生活补贴（孤儿、事实无人抚养儿童2,454元/人/月）",
    ),
    BudgetLine("festival_condolence", "节日慰问", 1_000_000, "春节、六一、中秋等节日慰问金，每年1万元"),
)


# ---------------------------------------------------------------------------------------------------------
# Children (synthetic), with needs and visits
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Need:
    category: str  # SERVICE_CATEGORIES code
    urgency: int  # 1 一般 (routine) … 4 紧急 (urgent)
    note: str


@dataclass(frozen=True, slots=True)
class Visit:
    visited_on: date
    days_ago: int
    kind: str  # home | phone | school
    findings: str


@dataclass(frozen=True, slots=True)
class Child:
    ref: str  # stable demo reference, e.g. "FT-0001"
    community_code: str
    street_code: str
    name: str
    gender: str  # male | female
    birth_date: date
    id_number: str
    categories: tuple[str, ...]  # CHILD_CATEGORIES codes, 1-3
    guardianship: str  # family | entrusted | temporary_state | long_term_state
    risk_level: str  # critical | high | medium | low
    school: str
    household_notes: str
    guardian_name: str
    guardian_relation: str
    guardian_phone: str
    consent_to_share: bool
    needs: tuple[Need, ...]
    visits: tuple[Visit, ...]


GUARDIANSHIP_KINDS: Final[dict[str, str]] = {
    "family": "家庭监护",
    "entrusted": "委托监护",
    "temporary_state": "临时监护",
    "long_term_state": "长期监护",
}
RISK_LEVELS: Final[dict[str, str]] = {"critical": "极高", "high": "高", "medium": "中", "low": "低"}
VISIT_KINDS: Final[dict[str, str]] = {"home": "入户走访", "phone": "电话回访", "school": "到校了解"}
URGENCY_LABELS: Final[dict[int, str]] = {1: "一般", 2: "较急", 3: "紧急", 4: "特急"}

_ID_WEIGHTS: Final[tuple[int, ...]] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final[str] = "10X98765432"


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check digit of a resident ID number (GB 11643)."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need 17 digits")
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def resident_id(birth: date, sequence: int, region: str = DISTRICT_DIVISION) -> str:
    """A synthetic resident ID: region + YYYYMMDD + '99' + one digit (odd male, even female) + check.

    The ``99x`` sequence block marks the number as demo data.
    """
    if not 0 <= sequence <= 9:
        raise ValueError("sequence digit 0-9")
    first17 = f"{region}{birth:%Y%m%d}99{sequence}"
    return first17 + id_check_digit(first17)


def is_valid_resident_id(number: str) -> bool:
    return len(number) == 18 and number[:17].isdigit() and id_check_digit(number[:17]) == number[17].upper()


_CHILD_CATEGORY_WEIGHTS: Final[dict[str, int]] = {
    "economic_hardship": 36,
    "left_behind": 22,
    "disabled": 12,
    "seriously_ill": 8,
    "guardianship_lacking": 8,
    "de_facto_unsupported": 5,
    "orphan": 2,
    "abused": 3,
    "street_child": 1,
    "hiv_affected": 1,
}

_NEEDS_BY_CHILD_CATEGORY: Final[dict[str, tuple[str, ...]]] = {
    "economic_hardship": ("education_aid", "material_aid", "targeted_assistance"),
    "left_behind": ("emotional_support", "family_education", "safety_education"),
    "disabled": ("rehabilitation", "special_education", "home_schooling"),
    "seriously_ill": ("medical_aid", "emotional_support", "temporary_care"),
    "guardianship_lacking": ("guardianship_assessment", "home_visits", "family_education"),
    "de_facto_unsupported": ("guardianship_assessment", "material_aid", "education_aid"),
    "orphan": ("emotional_support", "education_aid", "psych_counselling"),
    "abused": ("psych_counselling", "legal_aid", "temporary_care"),
    "street_child": ("temporary_care", "social_integration", "behaviour_correction"),
    "hiv_affected": ("medical_aid", "psych_counselling", "social_integration"),
}

_NEED_NOTES: Final[dict[str, tuple[str, ...]]] = {
    "psych_counselling": (
        "近期情绪低落、夜间失眠，学校反映上课注意力不集中",
        "经历家庭变故后不愿与人交流，需专业心理评估",
    ),
    "emotional_support": ("孩子常独处，希望有固定志愿者陪伴", "孩子性格内向，缺少同伴交往"),
    "temporary_care": ("监护人住院治疗期间无人照看", "寒暑假期间监护人工作无法照顾"),
    "rehabilitation": ("需持续康复训练，家庭无力承担机构费用", "康复训练中断半年，需重新评估并制定居家康复计划"),
    "special_education": ("随班就读跟不上进度，需要个别化教育支持", "需要特教老师评估学习能力"),
    "home_schooling": ("重度残疾无法到校，申请送教上门", "病情不宜到校，需安排送教上门"),
    "education_aid": ("学杂费和课外辅导费用有困难", "缺少学习用品和电脑，网课无法参加"),
    "medical_aid": ("医保报销后自付费用较高，家庭负担重", "需定期复查，交通和检查费用有困难"),
    "legal_aid": ("涉及抚养费纠纷，需要法律援助", "需协助申请人身安全保护令"),
    "guardianship_assessment": ("监护人监护能力存疑，需开展监护评估", "委托监护人年迈多病，需评估监护状况"),
    "family_education": ("家长教养方式简单粗暴，需家庭教育指导", "隔代抚养，祖辈缺乏教育方法"),
    "home_visits": ("需增加探访频次，关注生活照料情况", "家庭居住环境较差，需定期探访"),
    "verification_visits": ("补贴信息需核查更新", "家庭情况变化，需走访核实"),
    "hotline": ("家长希望获得24小时咨询渠道",),
    "targeted_assistance": ("家庭主要劳动力失业，需综合帮扶", "单亲家庭收入不稳定，需链接就业和救助资源"),
    "material_aid": ("冬季衣被不足", "需要米油等基本生活物资"),
    "behaviour_correction": ("有逃学和夜不归宿情况", "沉迷网络游戏，作息紊乱"),
    "relationship_adjustment": ("亲子冲突频繁，需关系调适", "父母离异后与继父母关系紧张"),
    "social_integration": ("随迁来深时间短，融入困难", "在校缺少朋友，社交退缩"),
    "safety_education": ("居住地附近有河道，需加强防溺水教育", "放学后常独自在家，需安全自护教育"),
    "policy_publicity": ("家长不了解困境儿童补贴政策",),
    "director_training": ("儿童主任需要相关个案处理指导",),
}

_VISIT_FINDINGS: Final[dict[str, tuple[str, ...]]] = {
    "home": (
        "入户查看居住环境整洁，儿童精神状态良好，监护人照料到位。",
        "家中卫生较差，冰箱食物不足，已联系社工配送物资。",
        "儿童近期体重下降，已提醒监护人带其复查。",
        "监护人外出务工，由祖母照看，叮嘱加强假期安全看护。",
        "儿童学习用品不足，已登记需求。",
        "家中无成年人在场，儿童独处，已联系监护人并报告督导员。",
    ),
    "phone": (
        "电话联系监护人，了解儿童近况稳定，补贴已按月到账。",
        "监护人表示近期工作变动，收入减少，约定下周入户。",
        "电话回访服务效果，家长反馈孩子情绪明显好转。",
        "电话未接通，已发送短信，三日内再次联系。",
    ),
    "school": (
        "与班主任沟通，儿童出勤正常，成绩中等，与同学相处融洽。",
        "班主任反映儿童近期多次迟到，作业完成情况差。",
        "学校心理老师反馈儿童情绪波动较大，建议转介心理疏导。",
        "儿童已获学校助学金，学习状态良好。",
    ),
}

_SURROUNDINGS: Final[dict[str, tuple[str, ...]]] = {
    "economic_hardship": ("家庭主要劳动力打零工，收入不稳定，租住城中村单间", "家中两个孩子，仅一人有收入，生活拮据"),
    "left_behind": (
        "父母在外地务工，孩子由{relation}在深照看",
        "父母长期在外地工作，每年回深一两次，孩子由{relation}照看",
    ),
    "disabled": ("儿童持有残疾证，需长期康复训练", "儿童智力残疾，{relation}全职照顾"),
    "seriously_ill": ("儿童患白血病，正在化疗", "儿童患先天性心脏病，等待手术"),
    "guardianship_lacking": ("父亲服刑，母亲下落不明，由{relation}照看", "父母离异后均未尽抚养义务，由{relation}照看"),
    "de_facto_unsupported": ("父母一方死亡、另一方失联，由{relation}抚养", "父母均重残，由{relation}代为照料"),
    "orphan": ("父母双亡，由{relation}照料",),
    "abused": ("曾遭受家庭暴力，现已采取保护措施", "遭受侵害后已落实保护措施，定期跟进"),
    "street_child": ("曾多次离家流浪，现已返家", "外地流入，经救助保护中心护送返乡后回深"),
    "hiv_affected": ("母亲为艾滋病感染者，儿童定期检测", "家庭受艾滋病影响，需注意隐私保护"),
}

_RELATIONS_FAMILY: Final[tuple[str, ...]] = ("母亲", "母亲", "父亲", "父亲", "祖母", "祖父", "外祖母")
_RELATIONS_KIN: Final[tuple[str, ...]] = ("祖母", "外祖母", "祖父", "叔叔", "姑姑", "舅舅", "姨妈")
# Categories in which the parents are absent, so the guardian on file is a relative (or the state).
_PARENTS_ABSENT: Final[frozenset[str]] = frozenset(
    ("orphan", "de_facto_unsupported", "guardianship_lacking", "left_behind")
)


# Visit intervals by risk level, as the default settings have them (``Settings.visit_interval_days``).
_VISIT_INTERVAL_DAYS: Final[dict[str, int]] = {"critical": 7, "high": 14, "medium": 30, "low": 90}


def _school(rng: random.Random, age: int, community: Community) -> str:
    base = community.name.removesuffix("社区")
    if age < 3:
        return "散居（未入园）"
    if age < 6:
        return f"福田区{base}幼儿园" if rng.random() < 0.85 else "未入园"
    if age < 12:
        return f"福田区{rng.choice((base, base, '第二', '实验'))}小学"
    if age < 15:
        return f"福田区{rng.choice(('第一', '第二', '实验', base))}中学（初中）"
    return rng.choice(("福田区高级中学", "福田区职业技术学校", "市属高中（寄宿）", "已辍学"))


def children(rng_seed: int = SEED, n: int = 400) -> Iterator[Child]:
    """Yield ``n`` synthetic children, deterministic for a given seed.

    With ``n >= 92`` every community has at least one child, and the demo director's community (福山) has
    a larger caseload. Ages are 0-17 throughout 2026 (born 2009-01-01 … 2026-06-30). ID numbers carry
    region 440304, the birth date, the sequence block ``99x`` (x odd for boys, even for girls) and a
    valid MOD 11-2 check digit.
    """
    rng = random.Random(rng_seed)
    used_ids: set[str] = set()
    cat_codes = list(_CHILD_CATEGORY_WEIGHTS)
    cat_weights = list(_CHILD_CATEGORY_WEIGHTS.values())
    first_birth = date(2009, 1, 1)
    span = (date(2026, 6, 30) - first_birth).days
    guardian_phones = _Phones("1390000", 1001)
    for i in range(n):
        # Every community gets a child first; the demo director's community gets a larger caseload.
        if i < len(COMMUNITIES):
            community = COMMUNITIES[i]
        elif rng.random() < 0.08:
            community = COMMUNITY_BY_CODE[DEMO_DIRECTOR_COMMUNITY]
        else:
            community = rng.choice(COMMUNITIES)
        gender = rng.choice(("male", "female"))
        birth = first_birth + timedelta(days=rng.randint(0, span))
        while True:
            digit = rng.choice((1, 3, 5, 7, 9) if gender == "male" else (0, 2, 4, 6, 8))
            id_number = resident_id(birth, digit)
            if id_number not in used_ids:
                used_ids.add(id_number)
                break
            birth += timedelta(days=1)
        age = 2026 - birth.year - ((birth.month, birth.day) > (REFERENCE_DATE.month, REFERENCE_DATE.day))
        age = max(age, 0)

        k = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
        cats: list[str] = []
        while len(cats) < k:
            c = rng.choices(cat_codes, weights=cat_weights)[0]
            if c not in cats:
                cats.append(c)
        if "orphan" in cats and "de_facto_unsupported" in cats:
            cats.remove("de_facto_unsupported")
        if "left_behind" in cats and len(cats) > 1 and {"orphan", "de_facto_unsupported"} & set(cats):
            cats.remove("left_behind")  # parents dead or incapable, not working away
        categories = tuple(c for c in CHILD_CATEGORIES if c in cats)

        if "orphan" in categories:
            guardianship = rng.choice(("entrusted", "long_term_state", "entrusted"))
        elif "abused" in categories and rng.random() < 0.4:
            guardianship = "temporary_state"
        elif "de_facto_unsupported" in categories or "guardianship_lacking" in categories:
            guardianship = rng.choice(("entrusted", "entrusted", "family"))
        elif "street_child" in categories and rng.random() < 0.3:
            guardianship = "temporary_state"
        else:
            guardianship = "family" if rng.random() < 0.93 else "entrusted"

        if "abused" in categories or guardianship == "temporary_state":
            risk = rng.choice(("critical", "high", "high"))
        elif "guardianship_lacking" in categories or "street_child" in categories:
            risk = rng.choice(("high", "medium", "medium"))
        else:
            risk = rng.choices(("critical", "high", "medium", "low"), weights=(1, 6, 33, 60))[0]

        if guardianship == "long_term_state":
            guardian_name, relation = "深圳市福田区未成年人救助保护中心", "国家监护（长期）"
        elif guardianship == "temporary_state":
            guardian_name, relation = "深圳市福田区未成年人救助保护中心", "国家监护（临时）"
        else:
            absent = guardianship != "family" or bool(_PARENTS_ABSENT.intersection(categories))
            relation = rng.choice(_RELATIONS_KIN if absent else _RELATIONS_FAMILY)
            g_gender = "female" if relation in ("母亲", "祖母", "外祖母", "姑姑", "姨妈") else "male"
            guardian_name = _name(rng, g_gender, adult=True)
        guardian_phone = guardian_phones.next()

        carer = "区未成年人救助保护中心" if guardianship in ("temporary_state", "long_term_state") else relation
        notes = [rng.choice(_SURROUNDINGS[c]).format(relation=carer) for c in categories]
        if guardianship == "temporary_state":
            notes.append("现由区未成年人救助保护中心临时监护")
        if guardianship == "entrusted":
            notes.append("已签订委托监护确认书")
        household = "；".join(notes) + "。"

        pool = sorted({s for c in categories for s in _NEEDS_BY_CHILD_CATEGORY[c]})
        if age < 6:
            pool = [p for p in pool if p not in ("home_schooling", "behaviour_correction")] or ["family_education"]
        n_needs = rng.choices((0, 1, 2, 3), weights=(20, 40, 28, 12))[0]
        needs = []
        for cat in rng.sample(pool, min(n_needs, len(pool))):
            base_urgency = {"critical": 4, "high": 3, "medium": 2, "low": 1}[risk]
            urgency = max(1, min(4, base_urgency + rng.choice((-1, 0, 0, 1))))
            needs.append(Need(category=cat, urgency=urgency, note=rng.choice(_NEED_NOTES[cat])))

        lo, hi = {"critical": (10, 12), "high": (6, 8), "medium": (3, 5), "low": (2, 4)}[risk]
        max_back = min(365, (REFERENCE_DATE - birth).days)
        visits: list[Visit] = []
        if max_back >= 1:
            count = rng.randint(lo, hi)
            days_list = sorted({rng.randint(1, max_back) for _ in range(count)}, reverse=True)
            # Most directors keep up (the last visit within the risk level's interval); about one child in twelve is
            # overdue, as a real caseload is. A separate generator keeps every other figure of the demo unchanged.
            keeper = random.Random(f"visit-schedule-{i}")
            interval = _VISIT_INTERVAL_DAYS[risk]
            if keeper.random() < 0.83 and days_list[-1] >= interval and max_back > interval:
                days_list[-1] = keeper.randint(1, interval - 1)
                days_list = sorted(set(days_list), reverse=True)
            for days in days_list:
                kind = rng.choices(("home", "phone", "school"), weights=(60, 30, 10 if age >= 6 else 0))[0]
                findings = [f for f in _VISIT_FINDINGS[kind] if age >= 6 or "学习" not in f]
                visits.append(
                    Visit(
                        visited_on=REFERENCE_DATE - timedelta(days=days),
                        days_ago=days,
                        kind=kind,
                        findings=rng.choice(findings),
                    )
                )

        yield Child(
            ref=f"FT-{i + 1:04d}",
            community_code=community.code,
            street_code=community.street_code,
            name=_name(rng, gender),
            gender=gender,
            birth_date=birth,
            id_number=id_number,
            categories=categories,
            guardianship=guardianship,
            risk_level=risk,
            school=_school(rng, age, community),
            household_notes=household,
            guardian_name=guardian_name,
            guardian_relation=relation,
            guardian_phone=guardian_phone,
            consent_to_share=rng.random() < 0.85,
            needs=tuple(needs),
            visits=tuple(visits),
        )


__all__ = [
    "ALL_CHILD_CATEGORIES",
    "BUDGET_2026",
    "BUDGET_NAME",
    "BUDGET_YEAR",
    "COMMUNITIES",
    "COMMUNITY_BY_CODE",
    "DEMO_DIRECTOR_COMMUNITY",
    "DEMO_ORG_INDEX",
    "DEMO_PASSWORD",
    "DEMO_SUPERVISOR_STREET",
    "DISTRICT_DIVISION",
    "DONATIONS",
    "DONATION_CHANNELS",
    "DONORS",
    "FUND_RAISED_FEN",
    "GUARDIANSHIP_KINDS",
    "ORGANIZATIONS",
    "REFERENCE_DATE",
    "RISK_LEVELS",
    "ROLES",
    "SERVICES",
    "SOCIAL_WORKERS",
    "SPECIAL_BUDGET_FEN",
    "STREETS",
    "STREET_BY_CODE",
    "USERS",
    "USER_BY_USERNAME",
    "VOLUNTEER_TEAMS",
    "BudgetLine",
    "Child",
    "Community",
    "DemoUser",
    "Donation",
    "Donor",
    "Need",
    "Organization",
    "Service",
    "SocialWorker",
    "Street",
    "Visit",
    "VolunteerTeam",
    "children",
    "communities_of",
    "id_check_digit",
    "is_valid_resident_id",
    "resident_id",
]
