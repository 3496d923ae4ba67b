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

import importlib
import sys
from typing import Any

import click
from sqlalchemy.exc import StatementError

from heating.cli import click_zh
from heating.config import ConfigError
from heating.db import DatabaseError
from heating.errors import Refused
from heating.sealing import KeyFileError

# The sibling modules holding the commands (each lists them in ``COMMANDS``), imported
# only when one of their commands is asked for (``heating import`` loads no geopandas).
COMMAND_MODULES = (
    "imports",
    "setup",
    "measures",
    "signoff",
    "usage",
    "boilers",
    "report",
    "geo",
    "city",
    "maps",
    "demo",
)


class HeatingGroup(click.Group):
    """A group that turns domain refusals into exit code 1 with a Chinese message.

    Its commands are registered module by module as they are looked up: the
    help lists them all, a command imports what it needs and no more.
    """

    _loaded: set[str]

    def _load(self, module: str) -> None:
        loaded = self.__dict__.setdefault("_loaded", set())
        if module in loaded:
            return
        loaded.add(module)
        for command in getattr(importlib.import_module(f"heating.cli.{module}"), "COMMANDS", ()):
            click_zh.localize_metavars(command)
            self.add_command(command)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module in COMMAND_MODULES:
            if cmd_name in self.commands:
                break
            self._load(module)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in COMMAND_MODULES:
            self._load(module)
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Refused as exc:
            raise click.ClickException(exc.message) from None
        except (ConfigError, DatabaseError, KeyFileError) as exc:
            raise click.ClickException(str(exc)) from None
        except StatementError as exc:
            # A sealed column written or read without the key file: SQLAlchemy wraps the refusal.
            if isinstance(exc.orig, KeyFileError):
                raise click.ClickException(str(exc.orig)) from None
            raise
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


# The group's own usage line; each command's as its module is loaded (HeatingGroup._load).
click_zh.localize_metavars(cli)


def main() -> None:
    """Console entry point."""
    try:
        cli.main(prog_name="heating")
    except KeyboardInterrupt:
        click.echo("已中断。", err=True)
        sys.exit(130)
