"""The language tables: complete, consistent, strict about unknown codes, and Chinese that
reads as Chinese (full-width punctuation, no stray spaces) in the table and as rendered."""

from __future__ import annotations

import pkgutil
import re
import string
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from digest_mailer import i18n
from digest_mailer.briefing.extractive import ExtractiveBriefer
from digest_mailer.briefing.prompt import build_messages
from digest_mailer.domain.compose import category_label, reason_for
from digest_mailer.domain.digest import DayList
from digest_mailer.faces.web.pages import Pages
from digest_mailer.mail.render import DigestRenderer, format_date, subject_for
from digest_mailer.replies.classify import _UNSUBSCRIBE

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_render import make_digest

ROOT = Path(__file__).resolve().parent.parent
EN = i18n.texts("en")
OTHERS = [code for code in i18n.LANGUAGES if code != i18n.REFERENCE]

# Han characters, and the full-width punctuation that goes with them.
HAN = r"[\u3400-\u4dbf\u4e00-\u9fff]"
CJK = r"[\u3400-\u4dbf\u4e00-\u9fff\u3000-\u303f\uff01-\uff60]"
HALF_WIDTH = r"[,.:;!?()]"
# Strings the reader never sees as Chinese prose: the model's prompt name, regular
# expressions and reply words, font and language tags.
NOT_PROSE = ("lang.prompt_name", "lang.font", "lang.html", "brief.refusals", "reply.")
NUMERIC = {"n", "count", "total", "more", "day", "month", "year", "limit", "low", "high",
           "number", "threads"}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def zh_faults(text: str) -> list[str]:
    """What breaks the Chinese typesetting rules in ``text`` (tags already stripped)."""
    faults = []
    for pattern, what in (
        (f"{HAN}{HALF_WIDTH}|{HALF_WIDTH}{HAN}", "half-width punctuation next to Chinese"),
        (f"{CJK}[ \t]+{CJK}", "a space between Chinese characters"),
        (rf"\d[ \t]+{HAN}", "a space between a number and its measure word"),
        (rf"(?<![\w.])[{''.join(i18n.texts('zh')[f'lang.num.{n}'] for n in range(1, 6))}]"
         rf"[ \t]+{HAN}", "a space between a number and its measure word"),
    ):
        faults += [f"{what}: {m.group(0)!r} in {text[:80]!r}" for m in re.finditer(pattern, text)]
    return faults


def visible(html: str) -> str:
    """The text of an HTML page or email as a reader sees it; block ends end a line."""
    html = re.sub(r"(?is)<(style|script|head)\b.*?</\1>", " ", html)
    html = re.sub(r"(?i)</?(?:p|div|h\d|li|tr|td|br|i|section|table)\b[^>]*>", "\n", html)
    text = re.sub(r"<[^>]+>", "", html)
    return re.sub(r"&[a-z]+;|&#\d+;", "x", text)


# --- the tables -------------------------------------------------------------------------

def test_every_language_file_is_registered_and_the_reference_comes_first() -> None:
    files = {m.name for m in pkgutil.iter_modules(i18n.__path__) if not m.name.startswith("_")}
    assert files == set(i18n.LANGUAGES)
    assert i18n.LANGUAGES[0] == i18n.REFERENCE == "en"


@pytest.mark.parametrize("code", OTHERS)
def test_every_language_has_exactly_the_english_keys(code: str) -> None:
    """Category names excepted: a language may name more categories than English does (a
    missing name shows the code), never fewer."""
    table = i18n.texts(code)
    assert sorted(EN.keys() - table.keys()) == [], f"{code} lacks these keys"
    extra = {key for key in table.keys() - EN.keys() if not key.startswith("category.")}
    assert sorted(extra) == [], f"{code} has keys English does not"


@pytest.mark.parametrize("code", OTHERS)
def test_placeholders_match_english(code: str) -> None:
    table = i18n.texts(code)
    wrong = {key: (placeholders(EN[key]), placeholders(table[key]))
             for key in EN if key in table and placeholders(EN[key]) != placeholders(table[key])}
    assert wrong == {}


def test_keys_are_grouped_by_area() -> None:
    areas = {key.split(".", 1)[0] for key in EN}
    assert areas <= {"lang", "email", "page", "brief", "category", "reply", "cli", "profile",
                     "import", "library", "source"}
    assert all(isinstance(v, str) and v == v.strip("\n") for v in EN.values())


def test_a_missing_key_raises_instead_of_falling_back() -> None:
    with pytest.raises(KeyError):
        i18n.texts("zh")["email.no_such_key"]
    with pytest.raises(TypeError):  # the tables are read-only
        i18n.texts("zh")["email.product"] = "x"  # type: ignore[index]


def test_display_names_and_helpers() -> None:
    assert i18n.display_names() == {"en": "English", "zh": "中文 (Chinese)"}
    assert i18n.t("zh", "email.new_many", n=5) == "5篇新论文"
    assert i18n.t("en", "email.new_many", n=5) == "5 new papers"
    assert {"unsubscribe", "stop", "退订", "取消订阅"} <= set(i18n.words("reply.unsubscribe"))


# --- unknown codes are errors where they are looked up ----------------------------------

UNKNOWN = ["fr", "", "EN", "zh-Hans", "xx"]


@pytest.mark.parametrize("code", UNKNOWN)
def test_unknown_language_raises_a_clear_error(code: str) -> None:
    with pytest.raises(i18n.UnknownLanguage, match=r"unknown language .* \(known: en, zh\)"):
        i18n.texts(code)
    with pytest.raises(i18n.UnknownLanguage):
        i18n.t(code, "email.product")
    with pytest.raises(ValueError):  # UnknownLanguage is a ValueError for callers that check
        i18n.check(code)


def test_no_spot_falls_back_to_english_for_an_unknown_language() -> None:
    digest = make_digest(3)
    french = replace(digest, recipient=replace(digest.recipient, language="fr"))
    renderer = DigestRenderer(ROOT / "templates" / "email")
    for attempt in (
        lambda: renderer.render(french),
        lambda: subject_for(french),
        lambda: format_date(digest.digest_date, "fr"),
        lambda: ExtractiveBriefer().brief(digest.groups, "fr"),
        lambda: build_messages(digest.groups, "fr", 800),
        lambda: category_label("cs.CV", "fr"),
        lambda: reason_for(SimpleNamespace(email="a@example.org", categories=["cs.CV"],
                                           keywords=[], language="fr")),
        lambda: i18n.page_context("fr"),
    ):
        with pytest.raises(i18n.UnknownLanguage):
            attempt()


# --- Chinese that reads as Chinese --------------------------------------------------------

def _sample(text: str) -> str:
    """A table string with its placeholders filled as a reader would see them."""
    values = {name: "5" if name in NUMERIC else "cs.CV" for name in placeholders(text)}
    text = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", text)
    return re.sub(r"<[^>]+>", "", text.format(**values))


def test_every_chinese_string_follows_the_typesetting_rules() -> None:
    table = i18n.texts("zh")
    faults = [f"{key}: {fault}" for key, value in table.items()
              if not key.startswith(NOT_PROSE) for fault in zh_faults(_sample(value))]
    assert faults == []


def test_the_rules_catch_what_they_should() -> None:
    assert zh_faults("今天的 5 篇论文")  # digit with spaces before a measure word
    assert zh_faults("五 篇")
    assert zh_faults("领域:cs.CV")  # half-width colon after Chinese
    assert zh_faults("关键词 领域")
    assert zh_faults("简报,")
    assert not zh_faults("今天的5篇论文分布在 cs.CV、cs.LG 和 math.PR，有2条线索。")
    assert not zh_faults("本简报由 AI 模型（gpt-4o-mini）根据今日摘要生成")


def test_the_chinese_email_follows_the_rules() -> None:
    renderer = DigestRenderer(ROOT / "templates" / "email")
    for kind in ("llm", "extractive"):
        for n in (0, 1, 6, 14):
            out = renderer.render(make_digest(n, language="zh", kind=kind))
            for part in (out.subject, out.text, visible(out.html)):
                assert zh_faults(part) == []
    reason = reason_for(SimpleNamespace(email="a@example.org", categories=["cs.CV", "cs.LG"],
                                        keywords=["diffusion"], language="zh"))
    assert reason == ("您以 a@example.org 订阅了每日科研简报；领域：计算机视觉、机器学习；"
                      "关键词：“diffusion”。")
    assert zh_faults(reason) == []
    assert category_label("cs.CV", "zh") == "计算机视觉（cs.CV）"  # the code as typed
    assert category_label("cs.CV") == "Computer Vision (cs.CV)"


def test_the_chinese_briefing_follows_the_rules() -> None:
    from test_extractive import DAY, make_groups

    for k in range(1, len(DAY) + 1):
        for limit in (1200, 300):
            text = ExtractiveBriefer(limit).brief(make_groups(DAY[:k]), "zh").text
            assert re.search(HAN, text) and zh_faults(text) == []


def _day_list() -> DayList:
    """A full list of the day: papers with every kind of reason, two of them in the email
    (titles and abstracts neutral: real ones hold words of page strings, "Language")."""
    digest = make_digest(6)
    kinds = [("keyword", "diffusion"), ("library", "Paper X"), ("more", "Paper Y"),
             ("explore", ""), None, None]
    papers = iter(kinds)
    groups = tuple(replace(g, papers=tuple(replace(p, reason=next(papers),
                                                   title=f"Diffusion Models {p.number}",
                                                   abstract=f"Variant {p.number}.")
                                           for p in g.papers))
                   for g in digest.groups)
    return DayList("zh", digest.digest_date, groups,
                   frozenset(p.key for p in digest.papers[:2]), "/v/x")


PAGE_CONTEXT = {
    "unsubscribe.html": {"email": "li@example.cn", "action": "/u/x"},
    "unsubscribed.html": {"email": "li@example.cn", "undo_url": "/u/x/undo", "csrf": "c",
                          "bounced": False},
    "resubscribed.html": {"email": "li@example.cn", "preferences_url": "/p/x"},
    "feedback.html": {"vote": "more", "title": "Diffusion Models", "action": "/f/x"},
    "feedback_done.html": {"vote": "less", "title": "Diffusion Models", "preferences_url": "/p/x",
                           "words": ["diffusion", "models"]},
    "preferences.html": {
        "email": "li@example.cn", "saved": True, "active": False, "action": "/p/x", "csrf": "c",
        "categories": ["cs.CV", "cs.LG"], "hours": range(24), "min_papers": 5, "max_papers": 100,
        "languages": i18n.display_names(), "cadences": ("daily", "weekly"), "weekdays": range(7),
        "form": SimpleNamespace(errors={"timezone": "x"}, categories=["cs.CV"], keywords="a",
                                exclusions="", send_hour="7", timezone="Asia/Shanghai",
                                language="zh", max_papers="20", cadence="weekly", weekday="4"),
        "library": {"notice": "x", "error": "x", "statement_error": "x",
                    "statement": "GNN", "limit": 5, "seeds": [
                        SimpleNamespace(id=1, statement=True, text="GNN", ids=""),
                        SimpleNamespace(id=2, statement=False, text="", ids="arXiv:2401.00001"),
                        SimpleNamespace(id=3, statement=False, text="Attention",
                                        ids="arXiv:1706.03762")]}},
    "message.html": {"title": i18n.t("zh", "page.invalid_link.title"),
                     "text": i18n.t("zh", "page.invalid_link.text")},
    "day.html": {"date_long": "2026-11-23", "day": _day_list()},
}
ZH_HEADINGS = {
    "unsubscribe.html": "要退订科研简报吗？", "unsubscribed.html": "您已退订",
    "resubscribed.html": "欢迎回来", "feedback.html": "要多推荐类似「Diffusion Models」的论文吗？",
    "feedback_done.html": "谢谢您的反馈", "preferences.html": "您的简报偏好",
    "message.html": "链接无效", "day.html": "2026-11-23的完整列表",
}


@pytest.mark.parametrize("name", sorted(PAGE_CONTEXT))
def test_the_chinese_pages_are_chinese_and_follow_the_rules(name: str) -> None:
    env = Pages(ROOT / "templates" / "web").env
    html = env.get_template(name).render(**i18n.page_context("zh"), **PAGE_CONTEXT[name])
    assert '<html lang="zh-Hans">' in html
    assert f"<h1>{ZH_HEADINGS[name]}</h1>" in html
    text = visible(html)
    assert zh_faults(text) == []
    # No English page string is left: only the reader's own values are in Latin letters.
    # Whole words: "Line" (an admin column) is no leak inside the format name "JSON Lines".
    english = [v for k, v in EN.items() if k.startswith("page.") and "{" not in v
               and len(v) > 3 and re.search(rf"(?<![A-Za-z]){re.escape(v)}(?![A-Za-z])", text)]
    assert english == []


@pytest.mark.parametrize("name", sorted(PAGE_CONTEXT))
def test_the_pages_are_english_by_default(name: str) -> None:
    env = Pages(ROOT / "templates" / "web").env
    context = dict(PAGE_CONTEXT[name])
    if name == "message.html":
        context = {"title": "Link not valid", "text": "x"}
    html = env.get_template(name).render(**context)
    assert '<html lang="en">' in html and " · Research Digest</title>" in html
    assert not re.search(HAN, visible(html).replace("中文 (Chinese)", ""))


def test_the_bounced_page_and_the_email_address_is_escaped() -> None:
    env = Pages(ROOT / "templates" / "web").env
    context = {**PAGE_CONTEXT["unsubscribed.html"], "bounced": True, "email": "<b>x@y.org"}
    html = env.get_template("unsubscribed.html").render(**i18n.page_context("zh"), **context)
    assert "发往 <strong>&lt;b&gt;x@y.org</strong> 的邮件无法送达" in html


def test_reply_keywords_of_every_language_unsubscribe() -> None:
    for word in i18n.words("reply.unsubscribe"):
        assert _UNSUBSCRIBE.match(word) and _UNSUBSCRIBE.match(word.upper() + "。")


# --- a weekly digest's words ----------------------------------------------------------------

def test_every_weekly_string_stands_in_for_a_daily_one_with_its_placeholders() -> None:
    for code in i18n.LANGUAGES:
        table = i18n.texts(code)
        weekly = i18n.weekly_twins(table)
        assert {"email.product", "email.subject", "email.subject_empty", "email.briefing",
                "email.reason", "brief.head_cross", "brief.one_paper"} <= set(weekly)
        assert len(weekly) == sum(i18n.WEEK in k for k in table)  # none in another area
        for key, text in weekly.items():  # a weekly string may name the weekday too
            assert placeholders(text) - {"weekday"} == placeholders(table[key]), (code, key)
        week = i18n.digest_texts(code, "weekly")
        assert all(week[k] == v for k, v in weekly.items())
        assert i18n.digest_texts(code, "daily") is table  # a daily digest is unchanged


def test_a_weekly_email_says_so_in_both_languages_and_the_chinese_follows_the_rules() -> None:
    renderer = DigestRenderer(ROOT / "templates" / "email")
    for n in (0, 1, 14):
        daily = renderer.render(make_digest(n))
        out = renderer.render(make_digest(n, cadence="weekly"))
        assert daily.subject.startswith("Research digest, ")
        assert out.subject.startswith("Weekly research digest, week to ")
        assert out.text.startswith("WEEKLY RESEARCH DIGEST")
        zh = renderer.render(make_digest(n, language="zh", cadence="weekly"))
        assert zh.subject.startswith("科研周报（截至") and zh.text.startswith("科研周报")
        for part in (zh.subject, zh.text, visible(zh.html)):
            assert zh_faults(part) == []
    assert "THIS WEEK'S BRIEFING" in out.text and "TODAY'S BRIEFING" not in out.text
    assert "This week&#39;s briefing" in out.html
    assert "本周简报" in zh.html
