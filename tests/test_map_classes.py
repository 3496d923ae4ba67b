"""Coverage classes and the palette: one visual language for the map, the report and the pages."""

from __future__ import annotations

import pytest

from heating.coverage_classes import (
    COVERAGE_CLASSES,
    TONES,
    colour_of,
    coverage_class,
    ink,
    palette_css,
    tint,
)


@pytest.mark.parametrize(
    ("coverage_value", "target", "expected"),
    [
        (1.0, 1.0, "meets"),
        (0.8, 0.8, "meets"),
        (8 / 10, 0.8, "meets"),
        (7 / 10, 0.8, "near"),  # 0.8 - 0.1 is 0.7000000000000001 in floats
        (0.9, 1.0, "near"),
        (0.899, 1.0, "far"),
        (0.0, 0.8, "far"),
        (None, 1.0, "no_data"),
        (0.5, None, "no_data"),
    ],
)
def test_coverage_class_against_own_target(coverage_value, target, expected) -> None:
    assert coverage_class(coverage_value, target) == expected


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("cls", [c.key for c in COVERAGE_CLASSES])
def test_badge_text_is_readable_on_its_tint_and_on_white(cls: str) -> None:
    colour = colour_of(cls)
    assert contrast(ink(colour), tint(colour)) >= 4.5
    assert contrast(ink(colour), "#ffffff") >= 4.5


def test_the_pages_stylesheet_carries_the_class_colours_and_tones() -> None:
    css = palette_css()
    for c in COVERAGE_CLASSES:
        assert f"--class-{c.key}: {c.colour};" in css
        assert f".swatch.class-{c.key} {{ background: {c.colour}; }}" in css
    # 达标 badges and "ok" messages share the 达标 colour family, 未达标 the 差距较大 one.
    assert f"--ok: {ink(colour_of('meets'))};" in css
    assert f"--bad: {ink(colour_of('far'))};" in css
    assert set(TONES.values()) == {c.key for c in COVERAGE_CLASSES}


def test_the_palette_is_served_to_every_page(client) -> None:
    resp = client.get("/palette.css")
    assert resp.status_code == 200 and resp.mimetype == "text/css"
    assert resp.get_data(as_text=True) == palette_css()
    assert '/palette.css"' in client.get("/login").get_data(as_text=True)
