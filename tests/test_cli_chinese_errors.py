"""Click's own messages in Chinese: usage errors say what was wrong, where, and how to get help.

"Missing option", "Invalid value", "No such command" and "Usage:" were
English.  They are read through the real ``heating`` entry point (a
subprocess of the installed console script) and through click's CliRunner
on the group, and keep exit code 2.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from heating.cli import cli

ENGLISH = re.compile(
    r"Usage:|Error:|Try '|Missing|Invalid value|No such|is not one of|not a valid|Did you mean"
    r"|does not exist|Options:|Commands:"
)

CASES = [
    (["coverage", "--by", "x"], ["错误：", "--by", "'x'", "village"]),
    (["coverage", "--foo"], ["没有选项 '--foo'"]),
    (["covrage"], ["没有命令 'covrage'", "'coverage'"]),
    (["import"], ["缺少参数 'FILE'"]),
    (["report", "--year", "abc"], ["'abc' 不是有效的整数"]),
    (["signoff", "submit"], ["缺少"]),
    (["import", "/nonexistent/台账.xlsx"], ["不存在"]),
]


@pytest.mark.parametrize(("args", "wanted"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_usage_errors_are_chinese_with_exit_code_2(args, wanted) -> None:
    result = CliRunner().invoke(cli, args, prog_name="heating")
    assert result.exit_code == 2, result.output
    assert not ENGLISH.search(result.stderr), result.stderr
    for text in wanted:
        assert text in result.stderr, (text, result.stderr)
    assert "用法：heating" in result.stderr
    assert "查看帮助：heating" in result.stderr


def test_the_console_script_speaks_chinese_too(tmp_path) -> None:
    script = shutil.which("heating", path=os.path.dirname(sys.executable))
    assert script, "the heating console script is installed beside this python"
    env = {**os.environ, "HEATING_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    done = subprocess.run(
        [script, "coverage", "--by", "x"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2
    assert "错误：" in done.stderr and not ENGLISH.search(done.stderr), done.stderr


def test_help_headings_are_chinese() -> None:
    result = CliRunner().invoke(cli, ["coverage", "--help"], prog_name="heating")
    assert result.exit_code == 0
    assert "选项：" in result.output and "显示此帮助并退出" in result.output
    assert not ENGLISH.search(result.output), result.output
