"""Settings: each declared once, read from overrides, the environment and a TOML file.

Every setting is declared once in ``SETTINGS`` with its default and a help
line.  Values come from, in order of precedence: explicit overrides (tests,
``--db``), ``HEATING_*`` environment variables, the TOML file named by
``HEATING_CONFIG``, then the defaults.  A bad value stops start-up with a
``ConfigError`` that names the setting, because a tracker that silently
falls back to a default target would report wrong compliance.  The
requirement profile, one of the settings, is ``heating.profile``.
"""

from __future__ import annotations

import calendar
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from heating.errors import ConfigError
from heating.profile import DEFAULT_PROFILE, Profile, parse_profile

# --------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("应为 true 或 false")


def _parse_sharing(value: Any) -> str:
    text = "auto" if value is None else str(value).strip().lower()
    if isinstance(value, bool):
        text = "on" if value else "off"
    if text not in {"auto", "on", "off"}:
        raise ValueError("应为 auto（PostgreSQL 上开启）、on 或 off")
    return text


def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("应为整数")
    number = int(str(value).strip())
    if number < 0:
        raise ValueError("不能为负数")
    return number


def _parse_positive_int(value: Any) -> int:
    number = _parse_int(value)
    if number == 0:
        raise ValueError("应为正整数")
    return number


def _parse_optional_days(value: Any) -> int | None:
    """Days to keep, or None (keep forever) for an empty value."""
    if value is None or str(value).strip() in ("", "keep", "none"):
        return None
    return _parse_int(value)


def _parse_addresses(value: Any) -> tuple[str, ...]:
    """IP addresses or networks, as a list or a comma-separated string."""
    import ipaddress

    items = value if isinstance(value, list | tuple) else str(value).split(",")
    out = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{text!r} 不是 IP 地址或网段（如 127.0.0.1 或 10.0.0.0/8）") from None
        out.append(text)
    return tuple(out)


def _parse_str(value: Any) -> str:
    return str(value)


def _parse_positive_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("应为正数")
    number = float(str(value).strip())
    if not math.isfinite(number) or number <= 0:
        raise ValueError("应为正数")
    return int(number) if number.is_integer() else number


HEAT_SOURCE_RULES = ("strict", "warn")


def _parse_heat_source_rule(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in HEAT_SOURCE_RULES:
        raise ValueError("应为 strict（不计为已改造）或 warn（计入并列出）")
    return text


def _parse_cutoff(value: Any) -> str:
    text = str(value).strip()
    month, _, day = text.partition("-")
    if not (month.isdigit() and day.isdigit() and 1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        raise ValueError("应为 月-日，如 10-31")
    return f"{int(month):02d}-{int(day):02d}"


def cutoff_of(year: int, report_cutoff: str) -> date:
    """The report cut-off ``report_cutoff`` ("10-31") of ``year``; 02-29 falls back to 02-28."""
    month, day = (int(x) for x in report_cutoff.split("-"))
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _parse_timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = str(value).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("应为 IANA 时区名，如 Asia/Shanghai") from None
    return name


def _default_key_file() -> str:
    return str(Path.cwd() / "instance" / "heating.key")


def _default_database_url() -> str:
    return "sqlite:///" + str(Path.cwd() / "instance" / "heating.db")


@dataclass(frozen=True)
class Setting:
    """One declared setting: name, default, parser and a help line."""

    name: str
    default: Any
    parse: Callable[[Any], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        _default_database_url,
        _parse_str,
        "数据库地址（SQLAlchemy URL），默认当前目录 instance/heating.db 的 SQLite",
    ),
    Setting(
        "secret_key", "", _parse_str, "会话签名密钥；留空时首次 heating init 生成并保存在数据库中"
    ),
    Setting(
        "encryption_key_file",
        _default_key_file,
        _parse_str,
        "身份证号、电话、错误行和上传原文件的加密密钥文件（不在数据库中，备份时另行保存）；"
        "默认当前目录 instance/heating.key，不存在时 heating init 创建",
    ),
    Setting(
        "db_pool_size",
        5,
        _parse_positive_int,
        "PostgreSQL：每个应用进程保持的数据库连接数（连接池大小）",
    ),
    Setting(
        "share_kept_figures",
        "auto",
        _parse_sharing,
        "各应用进程通过数据库共享已算好的统计（村级数字、用量研判、年度报告文件）：提交后只由"
        "一个进程重算，其他进程读取；auto 在 PostgreSQL 上开启、在 SQLite 上关闭",
    ),
    Setting(
        "compute_figures_ahead",
        True,
        _parse_bool,
        "共享统计时（见 share_kept_figures），提前算好各区县的村级数字：台账写入在提交前算好本区县的"
        "（写入约多用 2–4 秒），应用启动后在后台算好每个区县的；各区县第一位用户不必等待",
    ),
    Setting(
        "db_max_overflow",
        10,
        _parse_int,
        "PostgreSQL：连接池满时每个进程可临时多开的连接数",
    ),
    Setting(
        "db_pool_timeout",
        30,
        _parse_positive_int,
        "PostgreSQL：连接全部占用时请求等待空闲连接的秒数，超过即报错",
    ),
    Setting(
        "db_pool_recycle",
        3600,
        _parse_int,
        "PostgreSQL：连接使用多少秒后关闭重建（防火墙或连接代理会断开长时间空闲的连接；0 为不重建）",
    ),
    Setting("upload_max_mb", 50, _parse_int, "单个上传文件大小上限（MB）"),
    Setting("import_max_rows", 1_000_000, _parse_int, "单个台账数据行数上限"),
    Setting(
        "import_max_unzipped_mb", 500, _parse_int, "xlsx/ods 解压后总大小上限（MB），防止压缩炸弹"
    ),
    Setting(
        "import_max_memory_mb",
        3072,
        _parse_positive_int,
        "读取上传的台账、名录、村界文件的子进程可用内存上限（MB，地址空间）；超过即拒绝该文件，服务不受影响",
    ),
    Setting(
        "import_max_seconds",
        300,
        _parse_positive_int,
        "读取上传的台账、名录、村界文件的子进程 CPU 时间上限（秒；不占 CPU 卡住的子进程在 3 倍时间后终止）；超过即拒绝该文件，服务不受影响",
    ),
    Setting(
        "import_max_issues",
        100_000,
        _parse_positive_int,
        "一次导入逐条列出的行问题上限（超过的只计数，不逐条保存）",
    ),
    Setting(
        "boundaries_max_features", 100_000, _parse_positive_int, "村界文件的要素（多边形）数上限"
    ),
    Setting(
        "session_cookie_secure",
        False,
        _parse_bool,
        "仅通过 HTTPS 发送会话 Cookie（生产环境启用 HTTPS 时设为 true）",
    ),
    Setting("login_max_failures", 5, _parse_int, "连续登录失败多少次后开始延迟"),
    Setting("login_lockout_seconds", 60, _parse_int, "连续失败后每次登录需等待的秒数"),
    Setting(
        "login_address_limit",
        20,
        _parse_int,
        "同一客户端地址在 login_address_window_seconds 秒内最多登录失败多少次，超过后答复 429（0 为不限）",
    ),
    Setting(
        "login_address_window_seconds",
        600,
        _parse_positive_int,
        "按地址计算登录失败次数的时间窗（秒）",
    ),
    Setting(
        "login_global_limit",
        300,
        _parse_int,
        "全系统每分钟登录失败超过此数后，每次登录都延迟 1 秒再答复（只延迟、不锁定；0 为不限）",
    ),
    Setting(
        "trusted_proxies",
        (),
        _parse_addresses,
        "可信反向代理的地址（逗号分隔）；只有来自这些地址的请求才采用 X-Forwarded-For 中的客户端地址",
    ),
    Setting("session_idle_minutes", 30, _parse_positive_int, "登录会话闲置多少分钟后失效"),
    Setting("session_max_hours", 12, _parse_positive_int, "登录会话自登录起最长有效小时数"),
    Setting(
        "upload_retention_days",
        None,
        _parse_optional_days,
        "已取消或已过期预览的上传文件保留天数；留空为一直保留（已写入批次的文件从不删除）",
    ),
    Setting(
        "basemap_url",
        "",
        _parse_str,
        "底图瓦片地址模板（WGS84/CGCS2000，如天地图 _w 图层或内网瓦片服务）；默认无底图",
    ),
    Setting("basemap_attribution", "", _parse_str, "底图版权说明"),
    Setting("report_cutoff", "10-31", _parse_cutoff, "年度评估报告默认截止日（月-日）"),
    Setting(
        "timezone",
        "Asia/Shanghai",
        _parse_timezone,
        "网页上显示时间所用的时区（数据库中一律存 UTC）",
    ),
    Setting(
        "district_name",
        "",
        _parse_str,
        "报告封面上的区县名称（只在安装中只有一个区县时使用）；留空时取村庄名录中的区县，名录也没有时取随安装包提供的全国县级区划代码表",
    ),
    Setting(
        "report_wait_seconds",
        5,
        _parse_int,
        "网页下载年度报告时请求最多等待生成的秒数；超过则先显示“报告生成中”页面并自动刷新，"
        "生成在后台继续（不占用网页服务线程）",
    ),
    Setting("report_author_unit", "", _parse_str, "报告封面的编制单位；留空时封面留出空行供手填"),
    Setting("report_reviewer", "", _parse_str, "报告封面的审核人；留空时封面留出空行供手填"),
    Setting(
        "heat_source_rule",
        "strict",
        _parse_heat_source_rule,
        "余热热源不合规（环保绩效低于 B 级或列入关停淘汰计划）的集中供热户："
        "strict 不计为已改造并列出，warn 计入并列出",
    ),
    Setting(
        "boiler_max_tph", 35, _parse_positive_number, "燃煤锅炉清零范围：额定蒸发量上限（t/h）"
    ),
    Setting(
        "boiler_inspection_days",
        90,
        _parse_int,
        "停用、烟道切断、应急备用的燃煤锅炉多少天内须检查一次，超过即为逾期",
    ),
    Setting("profile", None, parse_profile, "要求配置（区域类别、目标、城乡分类代码映射）"),
    Setting(
        "usage",
        None,
        lambda raw: _usage_settings(raw),
        "[usage] 表：采暖季起止（season_start/season_end）、疑似改而不用的判定（ratio、min_peers、"
        "min_kwh_per_m2、min_m3_per_m2）和需要系统化解决方案的比例（relapse_share）",
    ),
    Setting(
        "subsidy",
        (),
        lambda raw: _subsidy_rules(raw),
        "[[subsidy.rules]] 补贴规则：路线（route）× 完工年份（year）→ 设备补贴（device，元/户）、"
        "每季运行补贴（operating，元/户）和发放季数（seasons）",
    ),
)


def _subsidy_rules(raw: Any) -> Any:
    from heating.subsidy import parse_subsidy

    return parse_subsidy(raw)


def _usage_settings(raw: Any) -> Any:
    from heating.seasons import parse_usage

    return parse_usage(raw)


_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    """Resolved settings.  Build with ``load_config``."""

    values: Mapping[str, Any]
    source: str = "defaults"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # unpickling asks for __setstate__ before ``values`` is set
            raise AttributeError(name)
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def settings_key(self) -> str:
        """Every setting as one string: a cache key (equal settings give the same key)."""
        return repr(sorted(self.values.items(), key=lambda item: item[0]))

    @property
    def profile(self) -> Profile:  # type: ignore[override]
        return self.values.get("profile") or DEFAULT_PROFILE

    @property
    def usage(self) -> Any:  # heating.seasons.UsageSettings
        from heating.seasons import UsageSettings

        return self.values.get("usage") or UsageSettings()

    def with_overrides(self, **overrides: Any) -> Config:
        """Return a copy with some settings replaced (parsed like any other value)."""
        values = dict(self.values)
        for name, raw in overrides.items():
            values[name] = _parse_setting(name, raw, "override")
        return Config(values, self.source)


def _parse_setting(name: str, raw: Any, origin: str) -> Any:
    setting = _BY_NAME.get(name)
    if setting is None:
        raise ConfigError(f"未知设置 {name!r}（来自 {origin}）")
    try:
        return setting.parse(raw)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"设置 {name}（来自 {origin}）的值 {raw!r} 无效：{exc}") from None


def load_config(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Resolve every setting from defaults, TOML file, environment and overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for s in SETTINGS:
        values[s.name] = s.default() if callable(s.default) else s.default
    source = "defaults"
    path = env.get("HEATING_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"HEATING_CONFIG 指向的配置文件不存在：{path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"配置文件 {path} 不是有效的 TOML：{exc}") from None
        except OSError as exc:
            raise ConfigError(f"无法读取配置文件 {path}：{exc.strerror}") from None
        for name, raw in data.items():
            values[name] = _parse_setting(name, raw, f"配置文件 {path}")
        source = path
    for s in SETTINGS:
        var = "HEATING_" + s.name.upper()
        if var in env and env[var] != "":
            values[s.name] = _parse_setting(s.name, env[var], f"环境变量 {var}")
    for name, raw in (overrides or {}).items():
        if raw is not None:
            values[name] = _parse_setting(name, raw, "命令行")
    return Config(values, source)
