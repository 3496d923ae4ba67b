"""werkzeug's URL builders compiled once per run for every test's app (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule


class CompiledUrlBuilders:
    """werkzeug's URL builders kept for the whole run (per process), for every test's app.

    Every test makes its own app, and binding each of its ~60 rules to the new
    URL map compiles two builder functions from a generated AST (about 7% of a
    web test's CPU).  A builder is a plain function of the rule, without
    closure or globals, whose code depends only on what ``key`` holds: the
    rule's parsed parts (``_trace``), the names of its defaults and the URL text
    of a default given to a variable of the rule, the rule text (its name)
    and whether unknown arguments go to the query string.  Each rule binds it
    to itself, so it builds through that rule's own converters.
    """

    def __init__(self) -> None:
        self.compile: Callable[[Rule, bool], Callable[..., tuple[str, str]]] = Rule._compile_builder
        self.builders: dict[tuple[Any, ...], Callable[..., tuple[str, str]]] = {}

    @staticmethod
    def key(rule: Rule, append_unknown: bool) -> tuple[Any, ...]:
        defaults = rule.defaults or {}
        default_parts = tuple(
            (name, rule._converters[name].to_url(defaults[name]))
            for is_dynamic, name in rule._trace
            if is_dynamic and name in defaults
        )
        return (append_unknown, rule.rule, tuple(rule._trace), tuple(defaults), default_parts)

    def builder(self, rule: Rule, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        key = self.key(rule, append_unknown)
        if key not in self.builders:
            self.builders[key] = self.compile(rule, append_unknown)
        return self.builders[key]


COMPILED_URL_BUILDERS = CompiledUrlBuilders()


def compile_builder_once(rule: Rule, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
    """Stand in for ``Rule._compile_builder`` (tests/conftest.py installs it)."""
    return COMPILED_URL_BUILDERS.builder(rule, append_unknown)
