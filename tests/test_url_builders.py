"""The suite's memo of URL builders (tests/support/routing.py) builds what werkzeug would."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import Map, Rule

from tests.support.routing import COMPILED_URL_BUILDERS


def _code(builder) -> tuple:
    code = builder.__code__
    return code.co_code, code.co_consts, code.co_names, code.co_varnames, code.co_name


def test_every_rule_of_the_app_gets_the_builder_werkzeug_compiles(app: Flask) -> None:
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 40
    for rule in rules:
        for append_unknown in (False, True):
            memo = COMPILED_URL_BUILDERS.builder(rule, append_unknown)
            own = COMPILED_URL_BUILDERS.compile(rule, append_unknown)
            assert _code(memo) == _code(own), rule.rule


def test_rules_differing_only_in_defaults_build_their_own_urls() -> None:
    url_map = Map(
        [
            Rule("/page/<int:n>", endpoint="plain"),
            Rule("/page/<int:n>", defaults={"n": 1}, endpoint="first"),
            Rule("/page/<int:n>", defaults={"n": 2}, endpoint="second"),
        ]
    )
    urls = url_map.bind("example.org")
    assert urls.build("plain", {"n": 7}) == "/page/7"
    assert urls.build("first", {}) == "/page/1"
    assert urls.build("second", {}) == "/page/2"
    assert urls.build("plain", {"n": 7, "q": "x"}) == "/page/7?q=x"
