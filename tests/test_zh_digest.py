"""A Chinese reader's digest of real days reads as Chinese: categories by their Chinese
names, full-width punctuation and no stray spaces in every sentence the digest writes
itself (the papers' own words, quoted, keep theirs), counts in digits; English unchanged.

Real days: the arXiv and bioRxiv documents of ../shared/feeds, end to end over loopback
HTTP and SMTP, and the listing days of ../shared/relevance for briefings with themes across
fields (the shared feeds are too small a day to have any).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
from conftest import relevance_corpus
from feedserver import FeedServer
from test_i18n import HAN, visible, zh_faults
from world import World, parse, parts

from digest_mailer import i18n
from digest_mailer.briefing.extractive import ExtractiveBriefer
from digest_mailer.briefing.themes import ThemePaper, find_themes, vectors_of
from digest_mailer.i18n import category_name, spaced
from digest_mailer.mail.render import wrap

ZH_NAMES = {k.removeprefix("category."): v for k, v in i18n.texts("zh").items()
            if k.startswith("category.")}
# What the digest quotes or names in the papers' words, and the citations ("[3, 6]",
# written as GB/T 7714 writes them): the rest is the digest's own connective text.
QUOTED = re.compile(r"“[^”]*”|「[^」]*」|\[\d+(?:, \d+)*\]")


def connective(text: str) -> str:
    return QUOTED.sub("〇", text)


def assert_reads_as_chinese(text: str, categories: set[str]) -> None:
    """The digest's own words in ``text``: no half-width comma, colon or bracket, no space
    between Chinese characters, and every category with a Chinese name called by it."""
    own = connective(text)
    assert re.search(HAN, own), text
    assert not re.search(r"[,:()]", own), own
    assert not re.search(r"[\u4e00-\u9fff][ \t]+[\u4e00-\u9fff]", own), own
    assert zh_faults(own) == [], own
    for code in categories:
        if code in ZH_NAMES:
            assert code not in own, (code, own)  # by its name in a sentence, not "cs.CV"


def test_the_category_table_covers_the_common_codes() -> None:
    for code, name in {"cs.CV": "计算机视觉", "cs.CR": "密码学与安全",
                       "stat.ML": "机器学习（统计）", "math.AP": "偏微分方程分析",
                       "hep-ex": "高能物理实验",
                       "cond-mat.str-el": "强关联电子", "physics.optics": "光学",
                       "q-bio.NC": "神经元与认知", "eess.IV": "图像与视频处理",
                       "econ.EM": "计量经济学", "astro-ph.CO": "宇宙学与河外天体物理",
                       "genomics": "基因组学", "cell_biology": "细胞生物学"}.items():
        assert category_name(code, "zh") == name
    # A bioRxiv subject however a source spells it; an unknown code stays a code.
    assert category_name("Cell Biology", "zh") == "细胞生物学"
    assert category_name("cell-biology", "zh") == "细胞生物学"
    assert i18n.category_label("nature", "zh") == "nature"
    assert i18n.category_in_text("cs.CV", "en") == "cs.CV"  # English sentences keep the code
    assert len(ZH_NAMES) > 170
    for code, name in ZH_NAMES.items():
        assert zh_faults(name) == [] and not re.search(r"[,:()]", name), code
        assert "、" not in name, code  # names are listed with "、" between them


def test_spacing_rule() -> None:
    assert spaced("cs.CL、cs.AI和bioinformatics的20篇新论文") == \
        "cs.CL、cs.AI 和 bioinformatics 的20篇新论文"
    assert spaced("计算与语言、人工智能 和 生物信息学") == "计算与语言、人工智能和生物信息学"
    assert spaced("由 AI 模型gpt-4o根据摘要生成") == "由 AI 模型 gpt-4o 根据摘要生成"
    assert spaced("今天的 （ cs.CL ） 论文") == "今天的（cs.CL）论文"
    assert spaced("连接了计算机视觉和cs.XX[1, 2]") == "连接了计算机视觉和 cs.XX [1, 2]"
    assert spaced("5 篇") == "5 篇"  # a number's space is the template's to get right
    for english in ("Diffusion models link cs.CV and math.PR [1, 5]",
                    "Schrödinger bridges[1]  （x）"):
        assert spaced(english) == english


def test_the_text_part_keeps_brackets_on_their_words() -> None:
    text = ("今天的20篇论文（计算与语言、人工智能和生物信息学）没有跨领域的共同线索，但领域内有"
            "相近的工作。在人工智能中，2篇论文都涉及「Vision-Language-Action models」[14, 15]")
    for width in range(20, 80):
        for line in wrap(text, width=width).splitlines():
            assert not line.startswith(tuple("」），。、：")) and not line.endswith(("「", "（"))


# --- a real day end to end ----------------------------------------------------------------

SHARED = {  # ../shared/feeds document → the category its source is filed under
    "arxiv_rss_multi_cs.LG+cs.AI+cs.CL+stat.ML_2026-09-24_trimmed4.xml": "cs.LG",
    "arxiv_rss_cs.AI_2026-04-27_trimmed3.xml": "cs.AI",
    "arxiv_rss_cs.CL_2026-04-27_trimmed3.xml": "cs.CL",
    "biorxiv_genomics_rss1_2023_feedrs_trimmed.xml": "genomics",
}
READER = ["cs.LG", "cs.AI", "cs.CL", "stat.ML", "genomics"]


def _send(tmp_path: Path, feed_server: FeedServer, smtp_server, shared_feeds: Path,
          language: str) -> tuple[str, str, str]:
    smtp = smtp_server()
    world = World.build(tmp_path / language, feed_server, smtp_url=smtp.url())
    for index, (name, category) in enumerate(SHARED.items()):
        feed_server.add_file(f"/{language}{index}.xml", shared_feeds / name)
        world.add_source(f"/{language}{index}.xml", f"arXiv ({category})", category)
    world.subscribe(f"{language}@example.org", READER, language=language, name="读者")
    world.app.ingest.refresh()
    report = world.app.send.send()
    assert report.counts["sent"] == 1, report
    (message,) = [parse(m.content) for m in smtp.messages]
    text, html = parts(message)
    return str(message["Subject"]), text, html


def test_a_real_day_in_chinese(tmp_path, feed_server, smtp_server, shared_feeds) -> None:
    subject, text, html = _send(tmp_path, feed_server, smtp_server, shared_feeds, "zh")
    seen = visible(html)
    for part in (subject, text, seen):
        assert zh_faults(part) == [], part
    # Subject and briefing: the digest's own sentences, categories by their names.
    assert subject.startswith("科研简报 2026-11-01：机器学习、人工智能及另外2个领域的"), subject
    assert_reads_as_chinese(subject, set(READER))
    briefing = text.split("今日简报\n", 1)[1].split("\n\n（", 1)[0].replace("\n", "")
    assert_reads_as_chinese(briefing, set(READER))
    assert "（本简报摘自今日论文摘要，未使用 AI 模型）" in text  # no brackets in brackets
    # Headings: the name, then the code as the reader chose it, in Chinese brackets.
    for heading in ("机器学习（cs.LG）", "人工智能（cs.AI）", "计算与语言（cs.CL）",
                    "基因组学（genomics）"):
        assert f"== {heading} · " in text and heading in seen
    # The multi feed's paper cross-listed from stat.ME, with its journal DOI.
    assert "交叉列自统计方法论" in text and "交叉列自统计方法论" in seen
    assert "交叉列自人工智能" in text and "交叉列自计算与语言" in text
    assert "https://doi.org/10.1093/bioinformatics/btac431" in text
    footer = text.split("您为何收到此邮件：", 1)[1].split("\n管理", 1)[0].replace("\n", "")
    assert "领域：机器学习、人工智能、计算与语言、机器学习（统计）、基因组学。" in footer


def test_a_real_day_in_english_is_unchanged(tmp_path, feed_server, smtp_server,
                                            shared_feeds) -> None:
    subject, text, html = _send(tmp_path, feed_server, smtp_server, shared_feeds, "en")
    assert subject == "Research digest, 1 Nov 2026: 10 new papers in cs.LG, cs.AI and 2 more"
    assert not re.search(HAN, text.replace("读者", "")) and not re.search(
        HAN, visible(html).replace("读者", ""))
    assert "== Machine Learning (cs.LG) · 5 papers ==" in text
    assert "== Genomics (genomics) · 1 paper ==" in text
    assert "cross-listed from stat.ME" in text and "cross-listed from cs.AI" in text
    assert "digest for cs.LG, cs.AI, cs.CL, stat.ML, genomics." in text.replace("\n", " ")


# --- briefings with themes across fields, on real listing days ----------------------------

def test_briefings_of_real_days_read_as_chinese() -> None:
    corpus, _, days = relevance_corpus(1, 40)  # puts bench/ on the path
    from briefing import digest_for, groups_of  # bench/briefing.py: its synthetic readers

    rng = random.Random(11)
    kinds = {"cross": 0, "within": 0}
    for _, rows in days[::8]:  # five real days of the test period
        papers = [corpus.papers[i] for i in rows]
        found = [ThemePaper(p.key, p.title, p.abstract) for p in papers]
        rows = vectors_of(found)
        themes = find_themes(found, rows)
        similarity = np.asarray((rows @ rows.T).todense())
        for _ in range(8):
            groups = groups_of(digest_for(rng, papers, similarity), papers)
            categories = {g.category for g in groups}
            for limit in (1200, 400):
                zh = ExtractiveBriefer(limit).brief(groups, "zh", themes=themes).text
                assert_reads_as_chinese(zh, categories)
                assert not re.search(r"[两三四五]篇|[两三四五]条", zh), zh  # digits, one rule
                en = ExtractiveBriefer(limit).brief(groups, "en", themes=themes).text
                assert not re.search(HAN, en) and not any(n in en for n in ZH_NAMES.values())
            kinds["cross"] += "跨领域的线索。" in zh
            kinds["within"] += bool(re.search(r"领域，\d篇论文都涉及", zh))
    assert kinds["cross"] >= 3 and kinds["within"] >= 3, kinds  # both kinds of lead were read
