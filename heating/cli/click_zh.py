"""Click's own words in Chinese: usage errors, help headings, file checks.

Click marks every message it prints with gettext (``_("Missing option")``,
``ngettext(...)``), bound once per click module.  ``install()`` rebinds those
names to a lookup in ``MESSAGES`` — gettext's job without a compiled
catalogue or a locale to set — so "Missing option '--township'." reads
"缺少选项 '--township'。" whichever way the command runs (the console
script, ``python -m``, CliRunner) and the exit codes stay click's (2 for
usage).  Messages not listed stay English: the test
(tests/test_cli_chinese_errors.py) lists the ones people meet.

The keys are click 8's message templates (checked against click 8.1–8.5);
a template click renames simply stops being translated, it never breaks.
"""

from __future__ import annotations

import sys
from typing import Any

import click

MESSAGES: dict[str, str] = {
    "Error: {message}": "错误：{message}",
    "Try '{command} {option}' for help.": "查看帮助：{command} {option}",
    "Usage:": "用法：",
    "Options": "选项",
    "Commands": "命令",
    "Positional arguments": "参数",
    "Show this message and exit.": "显示此帮助并退出。",
    "Show the version and exit.": "显示版本并退出。",
    "%(prog)s, version %(version)s": "%(prog)s 版本 %(version)s",
    "Aborted!": "已中止。",
    "Missing command.": "缺少子命令。",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing {param_type}": "缺少{param_type}",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "No such option {name!r}.": "没有选项 {name!r}。",
    "No such command {name!r}.": "没有命令 {name!r}。",
    "Invalid value: {message}": "取值无效：{message}",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的取值无效：{message}",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}：{message}",
    "unknown error": "未知错误",
    "Option {name!r} does not take a value.": "选项 {name!r} 不带取值。",
    "Argument {name!r} takes {nargs} values.": "参数 {name!r} 需要 {nargs} 个值。",
    "Choose from:\n\t{choices}": "可选：\n\t{choices}",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 内。",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的{number_type}。",
    "{value!r} is not a valid boolean. Recognized values: {states}": (
        "{value!r} 不是有效的是/否值，可用：{states}"
    ),
    "{value!r} is not a valid UUID.": "{value!r} 不是有效的 UUID。",
    "file": "文件",
    "directory": "目录",
    "path": "路径",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "{name} {filename!r} is a file.": "{name} {filename!r} 是文件，应为目录。",
    "{name} {filename!r} is a directory.": "{name} {filename!r} 是目录，应为文件。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} 不可读：请检查权限。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} 不可写：请检查权限。",
    "{name} {filename!r} is not executable.": "{name} {filename!r} 不可执行。",
    "Repeat for confirmation": "再次输入以确认",
    "Error: The two entered values do not match.": "错误：两次输入不一致。",
    "Error: invalid input": "错误：输入无效",
    "Do you want to continue?": "是否继续？",
    "env var: {var}": "环境变量：{var}",
    "default: {default}": "默认：{default}",
}

# ngettext(singular, plural, n): keyed by the singular; one Chinese form serves both.
PLURALS: dict[str, str] = {
    "Did you mean {possibility}?": "是否要输入 {possibility}？",
    "Got unexpected extra argument ({args})": "多余的参数（{args}）",
    "Option {name!r} requires an argument.": "选项 {name!r} 需要一个取值。",
    "Takes {nargs} values but 1 was given.": "需要 {nargs} 个值，只给了 {len} 个。",
    "{value!r} is not {choice}.": "{value!r} 不是可选值 {choice}。",
    "{value!r} does not match the format {format}.": "{value!r} 不符合格式 {formats}。",
    "{len_type} values are required, but {len_value} was given.": (
        "需要 {len_type} 个值，给了 {len_value} 个。"
    ),
}
# Plural templates may name their fields differently from the singular one.
PLURAL_FORMS: dict[str, str] = {
    "Option {name!r} requires an argument.": "选项 {name!r} 需要 {nargs} 个取值。",
    "Got unexpected extra argument ({args})": "多余的参数（{args}）",
    "Did you mean {possibility}?": "是否要输入以下之一：{possibilities}？",
    "{value!r} is not {choice}.": "{value!r} 不是可选值（{choices}）之一。",
    "{value!r} does not match the format {format}.": "{value!r} 不符合格式 {formats}。",
}

# The names click gives its value types appear in messages and as metavars.
TYPE_NAMES = {
    click.types.IntParamType: "整数",
    click.types.FloatParamType: "数值",
    click.types.IntRange: "整数范围",
    click.types.FloatRange: "数值范围",
    click.types.BoolParamType: "是/否",
    click.types.StringParamType: "文本",
}
OPTIONS_METAVAR = "[选项]"
SUBCOMMAND_METAVAR = "命令 [参数]..."
CHAIN_METAVAR = "命令1 [参数]... [命令2 [参数]...]..."

_MODULES = (
    "click.core",
    "click.decorators",
    "click.exceptions",
    "click.formatting",
    "click.parser",
    "click.termui",
    "click.types",
)


def gettext(message: str) -> str:
    return MESSAGES.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    if n != 1 and singular in PLURAL_FORMS:
        return PLURAL_FORMS[singular]
    return PLURALS.get(singular, singular if n == 1 else plural)


class ChineseHelpFormatter(click.HelpFormatter):
    """Headings and the usage prefix with a full-width colon: "选项：", "用法：heating …"."""

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{heading}：\n")

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, prefix="用法：" if prefix is None else prefix)


def install() -> None:
    """Rebind click's gettext names and type names to the Chinese ones (idempotent)."""
    click.Context.formatter_class = ChineseHelpFormatter
    for name in _MODULES:
        module = sys.modules.get(name) or __import__(name, fromlist=["_"])
        if hasattr(module, "_"):
            module._ = gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]
    for cls, label in TYPE_NAMES.items():
        cls.name = label
    click.INT.name = TYPE_NAMES[click.types.IntParamType]
    click.FLOAT.name = TYPE_NAMES[click.types.FloatParamType]
    click.BOOL.name = TYPE_NAMES[click.types.BoolParamType]
    click.STRING.name = TYPE_NAMES[click.types.StringParamType]
    missing = click.exceptions.MissingParameter
    if not getattr(missing.format_message, "_zh", False):
        english = missing.format_message

        def format_message(self: click.exceptions.MissingParameter) -> str:
            return fix_period(english(self))

        format_message._zh = True  # type: ignore[attr-defined]
        missing.format_message = format_message  # type: ignore[method-assign]


def localize_metavars(command: click.Command) -> None:
    """ "[OPTIONS]" and "COMMAND [ARGS]..." in usage lines, for a command tree."""
    command.options_metavar = OPTIONS_METAVAR
    if isinstance(command, click.Group):
        command.subcommand_metavar = CHAIN_METAVAR if command.chain else SUBCOMMAND_METAVAR
        for sub in command.commands.values():
            localize_metavars(sub)


def fix_period(message: Any) -> str:
    """Click appends "." to a translated sentence ("缺少选项 '--x'."): end it with "。"."""
    text = str(message)
    if text.endswith(".") and any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return text[:-1] + "。"
    return text
