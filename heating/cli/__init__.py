"""The ``heating`` command: a click group whose subcommands live in sibling modules.

Exit codes: 0 success, 1 input refused (Chinese message on stderr), 2 usage.
Foreseeable failures (bad config, unreachable database, unwritable path)
become a one-line message, never a traceback.

Commands import geopandas, the ledger pipeline, the report or waitress
inside their function: ``heating --help`` or ``heating coverage`` should not
pay the second or two those imports cost (measured with ``python -X
importtime``: geo.zones 2.5 s, imports.pipeline 1.5 s under load).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from heating.cli import click_zh
from heating.config import ConfigError
from heating.db import DatabaseError
from heating.errors import Refused
from heating.sealing import KeyFileError


class HeatingGroup(click.Group):
    """A group that turns domain refusals into exit code 1 with a Chinese message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Refused as exc:
            raise click.ClickException(exc.message) from None
        except (ConfigError, DatabaseError, KeyFileError) as exc:
            raise click.ClickException(str(exc)) from None
        except PermissionError as exc:
            raise click.ClickException(
                f"没有权限写入或读取 {exc.filename}：请换一个目录或检查文件权限。"
            ) from None
        except IsADirectoryError as exc:
            raise click.ClickException(f"{exc.filename} 是一个目录，请给出文件名。") from None
        except FileNotFoundError as exc:
            raise click.ClickException(f"找不到文件或目录：{exc.filename}") from None


# Click's own words (usage errors, "错误：…", help headings) in Chinese, for every
# way the group runs: the console script, python -m, CliRunner in the tests.
click_zh.install()


@click.group(cls=HeatingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "database_url",
    envvar="HEATING_DATABASE_URL",
    help="数据库地址（默认 instance/heating.db；PostgreSQL 用 postgresql+psycopg://…）",
)
@click.version_option(package_name="heating")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """清洁取暖改造进度台账（heating）命令行。"""
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url


def _register() -> None:
    from heating.cli import (
        boilers,
        city,
        demo,
        geo,
        imports,
        maps,
        measures,
        report,
        setup,
        signoff,
        usage,
    )

    for module in (
        setup,
        demo,
        imports,
        geo,
        measures,
        city,
        maps,
        report,
        boilers,
        signoff,
        usage,
    ):
        for command in getattr(module, "COMMANDS", ()):
            cli.add_command(command)
    click_zh.localize_metavars(cli)


_register()


def main() -> None:
    """Console entry point."""
    try:
        cli.main(prog_name="heating")
    except KeyboardInterrupt:
        click.echo("已中断。", err=True)
        sys.exit(130)
