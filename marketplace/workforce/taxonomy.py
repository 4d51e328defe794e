"""Code tables of the workforce (儿童主任、儿童督导员队伍): training, certificates and the yearly assessment (述职考核).

Everything here is data a bureau changes with a code review, not settings. Where the figures come from:

- Training: the Fujian notice (shared seeds 003) and Shenzhen's (seeds 001) ask that directors and supervisors be
  trained "分层级、多样化、可操作、全覆盖", at least once a year in rotation (每年至少轮训一次), a new director or
  supervisor only after passing the pre-service training (初任…经培训合格方可开展工作); the content stresses home
  visits, keeping files up to date, mandatory reports and policy links. The yearly hours below are the district's
  own reading of that (a rotation course of three days for directors, four for supervisors who train others).
- The assessment: Yuzhong's plan (seeds 002) asks for a 述职考核 of the directors, "硬考核与软管理结合": the hard
  part is what the system's own records show (visits on time, referrals closed with a verdict, mandatory reports,
  complete files, training), the soft part the supervisor's score on the self-report. The grade bands are the
  usual four of public-sector yearly assessments (优秀 / 合格 / 基本合格 / 不合格), with a veto (一票否决) for a
  serious failure of duty.
- The post subsidy (岗位补贴, Futian's proposal in seeds 000): paid monthly at the standard times the factor of the
  previous year's grade.
"""

from __future__ import annotations

from typing import Final

# The roles this package treats as the workforce, with the label people read.
WORKFORCE_ROLES: Final[dict[str, str]] = {"child_director": "儿童主任", "child_supervisor": "儿童督导员"}

TRAINING_KINDS: Final[dict[str, str]] = {
    "pre_service": "岗前培训",
    "business": "业务培训",
    "thematic": "专题培训",
    "rotation": "年度轮训",
    "online": "网络培训",
}

# Hours of training a person must attend in a year (passed courses; the hours attended, not the course's length).
REQUIRED_HOURS: Final[dict[str, float]] = {"child_director": 24.0, "child_supervisor": 32.0}

CERTIFICATE_KINDS: Final[dict[str, str]] = {
    "director_post": "儿童主任上岗证",
    "supervisor_post": "儿童督导员上岗证",
    "social_worker": "社会工作者职业资格证书",
    "mental_health": "心理健康指导员证书",
    "first_aid": "红十字救护员证",
}
# A certificate expiring within this many days is announced to its holder and their supervisor (once).
EXPIRY_NOTICE_DAYS: Final = 60

# The assessment's indicators, each scored 0..100 from the system's records of the person's scope and year:
# code → (label, how it is scored). The computation is ``workforce.indicators``.
INDICATORS: Final[dict[str, tuple[str, str]]] = {
    "visits_on_time": (
        "按时走访",
        "当年走访中不晚于上次走访约定日期的次数/当年走访次数×100（儿童的首次走访算按时）；无走访记0分",
    ),
    "referrals_closed": (
        "转介结案",
        "当年发出且未撤回、未被拒的转介中经回访确认结果（记录结论）并结案的比例×100；无转介记100分",
    ),
    "reports_made": (
        "强制报告",
        "儿童主任：本人提交的强制报告/辖区当年强制报告×100；督导员：已签收的/辖区当年强制报告×100；辖区无报告记100分",
    ),
    "files_complete": (
        "档案完整",
        "辖区在档儿童中必填项齐全（监护人姓名、关系、电话、住址、同意共享登记、至少一次走访）的比例×100；无在档儿童记100分",
    ),
    "training_hours": ("培训学时", "当年合格参训学时/年度应训学时×100，最高100分"),
}
# The weights of the result: the indicators and the supervisor's (for a supervisor: the district's) score; sum 1.
WEIGHTS: Final[dict[str, float]] = {
    "visits_on_time": 0.20,
    "referrals_closed": 0.15,
    "reports_made": 0.10,
    "files_complete": 0.15,
    "training_hours": 0.10,
    "reviewer_score": 0.30,
}
REVIEWER_SCORE_LABEL: Final = "考评得分"

# Grade bands, highest first: (code, label, lowest result in the band). A veto makes the grade "fail".
GRADES: Final[tuple[tuple[str, str, float], ...]] = (
    ("excellent", "优秀", 90.0),
    ("qualified", "合格", 75.0),
    ("basic", "基本合格", 60.0),
    ("fail", "不合格", 0.0),
)
GRADE_LABELS: Final[dict[str, str]] = {code: label for code, label, _ in GRADES}
# The post subsidy's factor per grade of the previous year, in percent; no confirmed assessment: 100.
SUBSIDY_FACTOR_PCT: Final[dict[str, int]] = {"excellent": 120, "qualified": 100, "basic": 80, "fail": 0}
NO_ASSESSMENT_FACTOR_PCT: Final = 100

ASSESSMENT_STATUSES: Final[dict[str, str]] = {
    "open": "待述职",
    "self_reported": "已述职待评分",
    "scored": "已评分待确认",
    "confirmed": "已确认",
}

# The notifications this package writes (``cases.notifications.notify``), with the label the messaging settings show.
NOTIFICATION_KINDS: Final[dict[str, str]] = {
    "workforce_certificate_expiring": "证书即将到期",
    "workforce_assessment_step": "述职考核待办",
}


def grade_for(result: float, *, veto: bool = False) -> str:
    if veto:
        return "fail"
    for code, _, low in GRADES:
        if result >= low:
            return code
    return "fail"
