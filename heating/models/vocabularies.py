"""Stable vocabularies: the keys used in code, JSON and the database, and their labels as people read them."""

from __future__ import annotations

# Stable vocabularies (keys used in code, JSON and the database).
ROLES = ("admin", "clerk", "planner", "city", "reviewer")
STATUSES = ("pending", "planned", "in_progress", "completed", "accepted", "exempt")
CLEAN_STATUSES = ("completed", "accepted")
# Required and not yet clean: a clean household said to be one of these has regressed.
NOT_CLEAN_YET = ("pending", "planned", "in_progress")
ROUTES = ("electric", "gas", "district", "biomass", "geothermal", "solar", "other")
OPERATIONS = ("normal", "unstable", "coal_again", "abandoned")
LAPSED_OPERATIONS = ("coal_again", "abandoned")
EXEMPT_REASONS = ("空置", "拆迁", "已有清洁取暖", "其他")
BATCH_STATUSES = ("preview", "committed", "rolled_back", "cancelled", "expired")
# Import batch statuses as people read them (web, CLI, refusals); an upload
# still being parsed shows as its job's state (parsing / failed).
BATCH_STATUS_LABELS = {
    "parsing": "正在解析",
    "failed": "解析失败",
    "preview": "待确认",
    "committed": "已写入",
    "rolled_back": "已撤销",
    "cancelled": "已取消",
    "expired": "已过期",
}

# Household statuses (改造状态) as people read them.
STATUS_LABELS = {
    "pending": "未改造",
    "planned": "已列入计划",
    "in_progress": "施工中",
    "completed": "已完工",
    "accepted": "已验收",
    "exempt": "无需改造",
}
ROUTE_LABELS = {
    "electric": "煤改电",
    "gas": "煤改气",
    "district": "集中供热",
    "biomass": "生物质",
    "geothermal": "地热能",
    "solar": "太阳能",
    "other": "其他清洁能源",
}
OPERATION_LABELS = {
    "normal": "正常",
    "unstable": "运行不稳定",
    "coal_again": "散煤复烧",
    "abandoned": "设备弃用/拆除",
}
ROLE_LABELS = {
    "admin": "管理员",
    "clerk": "乡镇填报员",
    "planner": "规划人员",
    "city": "市级用户",
    "reviewer": "区级审核",
}
# Sign-off of a township's period (heating.signoff); "unsubmitted" has no row.
SIGNOFF_STATE_LABELS = {
    "unsubmitted": "未报送",
    "submitted": "已报送",
    "approved": "已审核",
    "returned": "已退回",
}
SIGNOFF_STATES = tuple(SIGNOFF_STATE_LABELS)
SIGNOFF_ACTION_LABELS = {
    "submit": "报送",
    "approve": "审核通过",
    "return": "退回",
    "withdraw": "撤回审核",
}
SIGNOFF_ACTIONS = tuple(SIGNOFF_ACTION_LABELS)

# Heat sources (热源) and boilers (锅炉): the seed plan's items 8 and 10.
HEAT_SOURCE_KIND_LABELS = {
    "chp": "热电联产",
    "waste_heat": "工业余热",
    "gas_boiler": "燃气锅炉房",
    "electric_boiler": "电锅炉",
    "biomass": "生物质",
    "geothermal": "地热",
    "other": "其他",
}
HEAT_SOURCE_KINDS = tuple(HEAT_SOURCE_KIND_LABELS)
ENV_GRADE_LABELS = {"A": "A 级", "B": "B 级", "C": "C 级", "D": "D 级", "leading": "引领性"}
ENV_GRADES = tuple(ENV_GRADE_LABELS)
# 先立后破: a waste-heat source must be grade B or better (引领性 is above A).
COMPLIANT_GRADES = ("A", "B", "leading")
BOILER_FUEL_LABELS = {
    "coal": "燃煤",
    "gas": "燃气",
    "biomass": "生物质",
    "electric": "电",
    "oil": "燃油",
    "other": "其他",
}
BOILER_FUELS = tuple(BOILER_FUEL_LABELS)
BOILER_STATE_LABELS = {
    "in_use": "在用",
    "idle": "停用",
    "flue_cut": "烟道切断",
    "standby": "应急备用",
    "removed": "拆除",
    "deregistered": "注销",
    "converted": "改为清洁能源",
}
BOILER_STATES = tuple(BOILER_STATE_LABELS)
# 清零: these states count as eliminated once their date has come.
CLEARED_STATES = ("removed", "deregistered", "converted")
# Not cleared and not burning: inspected regularly so they do not burn again.
DORMANT_STATES = ("idle", "flue_cut", "standby")
LOW_NOX_LABELS = {"done": "已完成", "not_done": "未完成"}
# State of a 系统化解决方案 (heating.relapse_plans); no plan recorded reads as "none".
PLAN_STATE_LABELS = {"none": "未制定", "made": "已制定", "done": "已完成"}
PLAN_STATES = tuple(PLAN_STATE_LABELS)
PLAN_PLACE_KINDS = ("village", "township")
