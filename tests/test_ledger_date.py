"""imports.ledger_date: every form of a ledger date the issue lists, and every exclusion."""

from __future__ import annotations

from datetime import date

import pytest

from heating.errors import Refused
from imports.ledger_date import check_option, dates_in, decide, parse_option

TODAY = date(2021, 11, 15)


def found(text: str) -> list[date]:
    return [f.day for f in dates_in(text, today=TODAY, cutoff="10-31") if not f.future]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Introduced by 截至 / 截止 / 数据截至, in any of the full-date spellings.
        ("麟绛街道清洁取暖改造台账（截至2021年10月31日）", date(2021, 10, 31)),
        ("截至2021年10月31日", date(2021, 10, 31)),
        ("截止2021.10.31", date(2021, 10, 31)),
        ("截至2021-10-31", date(2021, 10, 31)),
        ("数据截至：2021-10-31", date(2021, 10, 31)),
        ("数据截至 2021/10/31", date(2021, 10, 31)),
        ("截止日期：20211031", date(2021, 10, 31)),
        ("截止到2021年9月30日", date(2021, 9, 30)),
        ("截至２０２１年１０月３１日", date(2021, 10, 31)),  # full-width digits
        ("数据截至：", None),  # the label alone
        # A full date in brackets.
        ("余吾镇台账（2021-10-31）", date(2021, 10, 31)),
        ("余吾镇台账(2021.10.31)", date(2021, 10, 31)),
        ("余吾镇台账【2021年10月31日】", date(2021, 10, 31)),
        ("余吾镇台账 ( 2021/10/31 )", date(2021, 10, 31)),
        ("余吾镇台账（20211031）", date(2021, 10, 31)),
        # YYYY年M月底: that month's last day.
        ("2021年10月底台账", date(2021, 10, 31)),
        ("2020年2月底", date(2020, 2, 29)),
        ("截至2021年9月底", date(2021, 9, 30)),
        # YYYY年度: a past year → its report cut-off; the current year → the upload day.
        ("2020年度清洁取暖台账", date(2020, 10, 31)),
        ("2021年度清洁取暖台账", TODAY),
        # Not a date.
        ("2021年冬季清洁取暖改造台账", None),  # a bare year
        ("2021", None),
        ("2021年10月", None),  # a month without 底
        ("2021年10月31日清洁取暖台账", None),  # a date neither introduced nor bracketed
        ("台账 2021-10-31", None),
        ("截至2021年2月30日", None),  # no such day
        ("截至1998-10-31", None),  # before 2000
        # The filling / printing date is ignored.
        ("填报日期：2021年12月20日", None),
        ("填表日期 2021-12-20", None),
        ("制表时间：2021.12.20", None),
        ("打印日期（2021-12-20）", None),
        ("填报单位：麟绛街道（盖章） 填报日期：2021年12月20日 单位：户、元", None),
        ("填报日期：2021年12月20日（数据截至2021年10月31日）", date(2021, 10, 31)),
        ("制表：2021年12月20日 2021年10月底", date(2021, 10, 31)),
    ],
)
def test_forms_and_exclusions(text: str, expected: date | None) -> None:
    got = found(text)
    assert (got[0] if got else None) == expected


def test_a_future_date_is_flagged_not_used() -> None:
    (mention,) = dates_in("截至2021年12月31日", today=TODAY)
    assert mention.future and mention.day == date(2021, 12, 31)
    (year,) = dates_in("2022年度台账", today=TODAY)
    assert year.future


@pytest.mark.parametrize(
    "text",
    ["2021-10-31", "2021.10.31", "2021/10/31", "2021年10月31日", "20211031", " 2021-10-31 "],
)
def test_option_forms(text: str) -> None:
    assert parse_option(text) == date(2021, 10, 31)


@pytest.mark.parametrize("text", ["2021-13-01", "31/10/2021", "2021年10月", "昨天", "", "2021"])
def test_unreadable_option_names_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match="2021-10-31、2021.10.31、2021/10/31、2021年10月31日"):
        parse_option(text)


def test_future_and_pre_2000_options_are_refused() -> None:
    with pytest.raises(Refused, match="晚于今天"):
        check_option(date(2021, 11, 16), TODAY)
    with pytest.raises(Refused, match="早于 2000 年"):
        check_option(date(1999, 12, 31), TODAY)
    assert check_option(TODAY, TODAY) == TODAY


def decided(titles, file_name="台账.xlsx", option=None):
    return decide(option=option, titles=titles, file_name=file_name, today=TODAY, cutoff="10-31")


def test_precedence_option_title_file_name_upload_day() -> None:
    titled = [("台账", ["余吾镇清洁取暖台账（截至2021年10月31日）"])]
    named = "余吾镇台账_截至2020-10-31.xlsx"
    d = decided(titled, named, option=date(2021, 9, 30))
    assert (d.day, d.source) == (date(2021, 9, 30), "option")
    d = decided(titled, named)
    assert (d.day, d.source, d.sheet) == (date(2021, 10, 31), "title", "台账")
    d = decided([("台账", ["余吾镇清洁取暖台账"])], named)
    assert (d.day, d.source) == (date(2020, 10, 31), "file_name")
    d = decided([("台账", ["余吾镇清洁取暖台账"])], "余吾镇2021年台账.xlsx")
    assert (d.day, d.source, d.issues) == (TODAY, "upload_day", [])


def test_only_the_first_sheet_with_a_header_counts() -> None:
    d = decided([("一组", ["一组台账"]), ("二组", ["二组台账（截至2021年10月31日）"])])
    assert (d.day, d.source) == (TODAY, "upload_day")


def test_title_and_file_name_disagree_is_a_warning_naming_both() -> None:
    d = decided([("台账", ["台账（截至2021年10月31日）"])], "余吾镇2020年度台账.xlsx")
    assert (d.day, d.source) == (date(2021, 10, 31), "title")
    (issue,) = d.issues
    assert (issue.severity, issue.code) == ("warning", "ledger_date_mismatch")
    assert "2021-10-31" in issue.message and "2020-10-31" in issue.message
    assert "按标题" in issue.message


def test_different_dates_on_different_sheets_are_an_error() -> None:
    d = decided(
        [("一组", ["截至2021年10月31日"]), ("二组", ["截至2020年10月31日"]), ("三组", ["三组"])]
    )
    assert d.day is None
    (issue,) = d.issues
    assert (issue.severity, issue.code) == ("error", "ledger_date_conflict")
    assert "一组" in issue.message and "二组" in issue.message
    same = decided([("一组", ["截至2021年10月31日"]), ("二组", ["（2021-10-31）"])])
    assert (same.day, same.issues) == (date(2021, 10, 31), [])


def test_a_future_date_in_the_file_warns_and_uses_the_upload_day() -> None:
    d = decided([("台账", ["台账（截至2022年10月31日）"])], "台账_截至2021-10-31.xlsx")
    assert (d.day, d.source) == (TODAY, "upload_day")
    (issue,) = d.issues
    assert issue.code == "ledger_date_future" and "2022" in issue.message
    d = decided([("台账", ["台账"])], "台账（2030-01-01）.xlsx")
    assert (d.day, d.issues[0].code) == (TODAY, "ledger_date_future")


def test_the_decision_says_where_the_date_came_from() -> None:
    d = decided([("台账", ["余吾镇台账（截至2021年10月31日）"])])
    assert d.describe() == (
        "台账日期：2021-10-31（取自工作表“台账”的标题“余吾镇台账（截至2021年10月31日）”）。"
    )
    assert "按上传当日" in decided([]).describe()
    (mention,) = dates_in("数据截至：2021-10-31", today=TODAY)
    assert mention.words == "截至:2021-10-31"
