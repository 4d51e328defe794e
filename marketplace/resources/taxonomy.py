"""The resource pool's code tables. Codes are English; labels are the Chinese the users read."""

from __future__ import annotations

from typing import Final

SERVICE_CATEGORIES: Final[dict[str, str]] = {
    "psych_counselling": "心理疏导",
    "emotional_support": "精神慰藉",
    "temporary_care": "临时照料",
    "rehabilitation": "康复指导",
    "special_education": "特殊教育",
    "home_schooling": "送教上门",
    "education_aid": "助学",
    "medical_aid": "助医",
    "legal_aid": "法律援助",
    "guardianship_assessment": "监护评估",
    "family_education": "家庭教育指导",
    "home_visits": "家庭探访",
    "verification_visits": "走访核查",
    "hotline": "热线运行",
    "targeted_assistance": "精准帮扶",
    "material_aid": "物资帮扶",
    "behaviour_correction": "行为矫治",
    "relationship_adjustment": "关系调适",
    "social_integration": "社会融入",
    "safety_education": "安全教育",
    "policy_publicity": "政策宣传",
    "director_training": "业务培训",
}

CHILD_CATEGORIES: Final[dict[str, str]] = {
    "orphan": "孤儿",
    "de_facto_unsupported": "事实无人抚养儿童",
    "left_behind": "农村留守儿童",
    "disabled": "残疾儿童",
    "seriously_ill": "重病儿童",
    "guardianship_lacking": "监护缺失/监护不当",
    "abused": "遭受侵害",
    "economic_hardship": "家庭经济困难",
    "street_child": "流浪儿童",
    "hiv_affected": "艾滋病病毒感染",
}

ORGANIZATION_KINDS: Final[dict[str, str]] = {
    "social_work_agency": "社工机构",
    "charity": "公益慈善组织",
    "volunteer_org": "志愿服务组织",
    "mass_org": "群团组织",
    "enterprise": "企业",
    "public_institution": "事业单位",
}

# The five-society linkage (五社联动): what each party brings to a child's plan.
FIVE_SOCIETIES: Final[dict[str, str]] = {
    "community": "社区",
    "social_organization": "社会组织",
    "social_worker": "社会工作者",
    "volunteer": "社区志愿者",
    "charity": "社会慈善资源",
}

DELIVERY_MODES: Final[dict[str, str]] = {
    "in_person": "上门/到场",
    "centre": "机构内",
    "online": "线上",
    "phone": "电话",
    "mixed": "线上线下结合",
}

FUNDING_SOURCES: Final[dict[str, str]] = {
    "free": "免费",
    "special_budget": "专项资金",
    "welfare_fund": "公益基金",
    "micro_project": "民生微实事",
    "lottery_fund": "福彩公益金",
    "self_funded": "机构自筹",
    "enterprise_csr": "企业捐赠",
}

SERVICE_STATUSES: Final[dict[str, str]] = {
    "draft": "草稿",
    "pending_review": "待审核",
    "published": "已发布",
    "paused": "已暂停",
    "archived": "已归档",
}

SERVICE_REVISION_STATUSES: Final[dict[str, str]] = {
    "draft": "未提交",
    "pending_review": "待审核",
    "returned": "已退回",
    "approved": "已通过",
    "withdrawn": "已撤回",
}

ORGANIZATION_STATUSES: Final[dict[str, str]] = {
    "pending": "待审核",
    "approved": "已入库",
    "suspended": "已暂停",
}
