"""The faithfulness check: pure, on real demo-feed abstracts, and through the loopback endpoint.

The paraphrases and fabrications below were written against the abstracts they cite; they are
the examples :data:`digest_mailer.briefing.faithful.MIN_SUPPORT` was tuned on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest
from feedserver import FeedServer
from llm_server import LLMServer
from sqlmodel import Session
from world import DEMO, llm_reader_world, parse, parts

from digest_mailer import db
from digest_mailer.briefing.extractive import ExtractiveBriefer
from digest_mailer.briefing.faithful import (
    MIN_SUPPORT,
    cited,
    split_sentences,
    support,
    unfaithful,
)
from digest_mailer.briefing.llm import OpenAIBriefer
from digest_mailer.briefing.prompt import cache_key
from digest_mailer.briefing.protocol import MemoryBriefingCache
from digest_mailer.db.models import Delivery
from digest_mailer.domain.digest import CategoryGroup, Paper
from digest_mailer.ingest.parse import parse_feed

TITLES = {1: "LiftMask3D", 2: "Draft Trees", 3: "Equivariant Flow Matching",
          4: "Heralded entanglement", 5: "Shadow kernels", 6: "Scaling Generative Foundation",
          7: "Certified randomness", 8: "DiffMath"}


@cache
def demo_papers() -> dict[int, tuple[str, str, str]]:
    """Number → (category, title, abstract) of eight real papers of the demo feeds."""
    found: dict[str, tuple[str, str, str]] = {}
    for path in sorted((DEMO / "feeds").glob("arxiv_*.xml")):
        category = path.stem.removeprefix("arxiv_")
        for entry in parse_feed(path.read_bytes()).entries:
            found.setdefault(entry.title, (category, entry.title, entry.abstract))
    return {n: next(v for t, v in found.items() if t.startswith(prefix))
            for n, prefix in TITLES.items()}


def sources() -> dict[int, str]:
    return {n: f"{title}. {abstract}" for n, (_, title, abstract) in demo_papers().items()}


FAITHFUL = [  # close paraphrases
    "LiftMask3D lifts 2D masks from a promptable segmentation model to 3D, producing "
    "open-vocabulary instance masks directly from posed RGB video without depth sensors [1].",
    "For faster speculative decoding, adaptive draft trees grow each branch by the draft "
    "model's calibrated acceptance probability under a fixed verification budget [2].",
    "An SE(3)-equivariant flow matching model generates transition-state geometries for SN2 "
    "reactions from reactant and product structures [3].",
    "Two trapped ions in separate buildings are entangled over 14 km of deployed telecom "
    "fiber, with a Bell-state fidelity of 0.88 [4].",
    "Shadow kernels compute projected quantum kernels from classical shadows, so the number "
    "of measurements scales linearly with the training set size [5].",
    "Two threads meet today: open-vocabulary 3D segmentation from RGB video [1] and "
    "speculative decoding with adaptive draft trees [2].",
    "A generative foundation model with over 1.3B parameters synthesises chest radiographs, "
    "built on rectified flow transformers [6].",
    "A protocol certifies randomness from a single untrusted quantum device, assuming its "
    "quantum memory is bounded between rounds [7].",
    "DiffMath generates handwritten mathematical expressions with a symbol- and graph-aware "
    "latent diffusion framework that uses the structure of LaTeX as a prior [8].",
    "Both quantum papers rest on bounded resources: shadow kernels need one batch of shadows "
    "per data point [5], and certified randomness assumes bounded quantum memory [7].",
    "Generative models appear in two fields: chest radiograph synthesis [6] and handwritten "
    "mathematical expression generation [8].",
    # looser ones, in words of the writer's own
    "Without any 3D supervision, LiftMask3D gets within 4 points of depth-based methods on "
    "ScanNet200 using only ordinary cameras [1].",
    "Speculative decoding gets cheaper when the draft tree adapts its depth to how confident "
    "the draft model is [2].",
    "Entanglement now spans a real metropolitan fiber link between two buildings [4].",
    "A billion-parameter model trained from scratch makes synthetic chest X-rays that could "
    "help diversify clinical datasets [6].",
    "One device is enough for certified randomness if its memory is limited [7].",
    "Shadow kernels avoid the exponential concentration that plagues quantum kernels, with a "
    "provable generalization bound [5].",
]
FABRICATED = [  # real papers cited for what they never say
    "LiftMask3D trains a reinforcement learning agent on ImageNet and beats GPT by a wide "
    "margin [1].",
    "Adaptive draft trees improve protein structure prediction for drug discovery [2].",
    "The flow matching model [3] also restores images from event cameras with microsecond "
    "latency.",
    "Heralded entanglement [4] enables secure federated learning for hospitals under "
    "differential privacy.",
    "Shadow kernels [5] replace attention in large language models, cutting inference cost.",
    "Both apply diffusion models to robotic grasping with tactile sensors [1, 2].",
    "The chest radiograph model [6] is trained only on a small public dataset and detects "
    "lung cancer in real time.",
    "DiffMath [8] translates spoken lectures into slides with a large language model.",
    "Certified randomness [7] is obtained from photonic chips at room temperature, enabling "
    "quantum advantage in optimisation.",
    "The speculative decoding method [2] is evaluated on chest X-rays, where it reduces "
    "hallucinations.",
    # a true sentence, cited to the wrong paper
    "Shadow kernels compute projected quantum kernels from classical shadows, so the number "
    "of measurements scales linearly with the training set size [4].",
]


def test_the_threshold_separates_paraphrases_from_fabrications() -> None:
    faithful = [support(s, sources()) for s in FAITHFUL]
    made_up = [support(s, sources()) for s in FABRICATED]
    assert min(faithful) >= 0.66 > MIN_SUPPORT, list(zip(faithful, FAITHFUL, strict=True))
    assert max(made_up) <= 0.5 < MIN_SUPPORT, list(zip(made_up, FABRICATED, strict=True))
    assert all(not unfaithful(s, sources()) for s in FAITHFUL)
    for sentence in FABRICATED:
        (found,) = unfaithful(sentence, sources())
        assert found.sentence == sentence and found.reason.startswith("too little support: 0.")


def test_support_counts_only_the_papers_a_sentence_cites() -> None:
    sentence = FAITHFUL[0]  # true of [1]
    assert support(sentence, sources()) == 1.0
    assert support(sentence.replace("[1]", "[1, 5]"), sources()) == 1.0
    assert support(sentence.replace("[1]", "[5]"), sources()) < 0.5


@pytest.mark.parametrize(("sentence", "reason"), [
    ("LiftMask3D produces open-vocabulary 3D instance masks from posed RGB video.",
     "no citation"),
    ("LiftMask3D produces open-vocabulary 3D instance masks [9].",
     "cites a paper that is not in the digest: 9"),
    ("LiftMask3D reaches 97% AP on ScanNet200 [1].",
     "a number the cited papers do not give: 97"),
    ("Two trapped ions are entangled over 41 km of deployed fiber [4].",
     "a number the cited papers do not give: 41"),  # 41 is in [3], not in [4]
])
def test_each_rule_has_its_reason(sentence: str, reason: str) -> None:
    (found,) = unfaithful(sentence, sources())
    assert found.reason == reason


def test_a_paragraph_names_only_its_unbacked_sentences() -> None:
    paragraph = " ".join([FAITHFUL[1], FABRICATED[4], "Today is a good day.", FAITHFUL[2]])
    assert [u.sentence for u in unfaithful(paragraph, sources())] == [
        FABRICATED[4], "Today is a good day."]


def test_sentences_split_at_ends_not_at_abbreviations_or_decimals() -> None:
    text = ("Methods such as flow matching, e.g. the SE(3) one [3], reach 0.88 fidelity et al. "
            "report [4]. Draft trees help. [2] [5] avoids concentration! 三维分割[1]。量子[5]？")
    assert split_sentences(text) == [
        "Methods such as flow matching, e.g. the SE(3) one [3], reach 0.88 fidelity et al. "
        "report [4].", "Draft trees help. [2]", "[5] avoids concentration!", "三维分割[1]。",
        "量子[5]？"]
    assert cited("Both [2–4] and [7, 1; 2].") == [2, 3, 4, 7, 1]
    # A title quoted whole is one sentence, its "?" included (a real arXiv title).
    assert split_sentences("Today's papers connect “How Much Noise Can BERT Handle? Insights "
                           "from Multilingual Sentence Difficulty” [1] with “Agents” [2]. "
                           "Both probe robustness [1, 2].") == [
        "Today's papers connect “How Much Noise Can BERT Handle? Insights from Multilingual "
        "Sentence Difficulty” [1] with “Agents” [2].", "Both probe robustness [1, 2]."]
    zh = "《模型能承受多少噪声？》[1]研究鲁棒性。"
    assert split_sentences(zh) == [zh]


ZH_FAITHFUL = [
    "《LiftMask3D》[1]直接从带位姿的RGB视频生成开放词汇的3D实例掩码。",
    "今天的论文把《Shadow kernels》[5]与《Certified randomness》[7]联系在一起。",
    "第[4]篇论文在14公里的光纤上实现了两个离子的纠缠。",
    "第[2]篇论文用自适应草稿树加速推测解码。",  # no Latin script: its citation is checked
]
ZH_FABRICATED = [
    ("第[1]篇论文在ImageNet上达到97%的准确率，超越了GPT-4。",
     "a number the cited papers do not give: 97"),  # "4" is in [1]: "within 4 points"
    ("《LiftMask3D》[1]使用强化学习和ImageNet训练，超越GPT。", "too little support: 0.50"),
    ("第[2]篇论文用自适应草稿树加速推测解码", "cites a paper that is not in the digest: 2"),
    ("推测解码变得更快。", "no citation"),
]


def test_chinese_sentences_are_judged_by_their_latin_terms_and_numbers() -> None:
    assert all(not unfaithful(s, sources()) for s in ZH_FAITHFUL)
    assert support(ZH_FAITHFUL[3], sources()) is None
    for sentence, reason in ZH_FABRICATED:
        digest = {1: sources()[1]} if "not in the digest" in reason else sources()
        assert [u.reason for u in unfaithful(sentence, digest)] == [reason]


def test_chinese_sources_are_compared_by_character_bigrams() -> None:
    zh = {1: "基于扩散模型的图像修复。我们把预训练的扩散模型蒸馏为四步采样器。"}
    assert not unfaithful("扩散模型被蒸馏为四步的图像修复采样器[1]。", zh)
    (found,) = unfaithful("强化学习智能体在医疗诊断中击败了放射科医生[1]。", zh)
    assert found.reason.startswith("too little support: 0.")


# --- through the loopback OpenAI-compatible endpoint and the real openai client ----------

def demo_groups() -> list[CategoryGroup]:
    papers = [Paper(number=n, key=f"2511.{n:05d}", title=title, abstract=abstract, authors=(),
                    link="", badge=f"arXiv ({category})", category=category,
                    categories=(category,))
              for n, (category, title, abstract) in demo_papers().items()]
    return [CategoryGroup(p.category, p.category, (p,)) for p in papers]


Make = Callable[..., OpenAIBriefer]


@pytest.fixture
def make(llm_server: LLMServer) -> Iterator[Make]:
    made: list[OpenAIBriefer] = []

    def build(cache: MemoryBriefingCache | None = None,
              min_support: float = MIN_SUPPORT) -> OpenAIBriefer:
        briefer = OpenAIBriefer("sk-test", llm_server.base_url, "test-model", 5.0, 0, 1200,
                                cache or MemoryBriefingCache(), ExtractiveBriefer(1200),
                                min_support)
        made.append(briefer)
        return briefer

    yield build
    for briefer in made:
        briefer.close()


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_faithful_answer_is_sent(llm_server: LLMServer, make: Make, language: str) -> None:
    briefer = make()
    briefing = briefer.brief(demo_groups(), language)
    assert briefing.kind == "llm" and llm_server.count == 1
    assert "LiftMask3D" in briefing.text and cited(briefing.text) == [1, 2]
    assert briefer.stats()["unfaithful"] == briefer.failures == 0


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_fabricated_sentence_citing_a_real_paper_is_refused(
        llm_server: LLMServer, make: Make, language: str, caplog,
        monkeypatch: pytest.MonkeyPatch) -> None:
    llm_server.mode = "fabricate"
    briefer = make()
    briefing = briefer.brief(demo_groups(), language)
    assert briefing.kind == "extractive" and briefing.text
    assert "radiologists" not in briefing.text and "ImageNet" not in briefing.text
    assert briefer.stats()["unfaithful"] == 1 and briefer.failures == 1
    assert "unfaithful: 1 sentence(s)" in caplog.text
    # Refused answers are not cached, nor asked again at once: the next reader of these
    # papers (a theme's, say: thousands of readers) gets the extractive briefing at no call.
    assert briefer.brief(demo_groups(), language).kind == "extractive"
    assert llm_server.count == 1
    monkeypatch.setattr("digest_mailer.briefing.llm.REFUSED_SECONDS", 0.0)  # a later run
    briefer.brief(demo_groups(), language)
    assert llm_server.count == 2 and briefer.unfaithful == 2


def test_a_sentence_without_a_citation_is_refused(llm_server: LLMServer, make: Make) -> None:
    first = demo_papers()[1][1]
    llm_server.reply = f"“{first}” [1] appears today. It lifts 2D masks to 3D instance masks."
    briefer = make()
    assert briefer.brief(demo_groups(), "en").kind == "extractive"
    assert briefer.unfaithful == 1


def test_the_threshold_is_the_briefers_setting(llm_server: LLMServer, make: Make) -> None:
    llm_server.mode = "fabricate"
    assert make(min_support=0.0).brief(demo_groups(), "en").kind == "llm"  # support off
    llm_server.mode = "ok"
    assert make(min_support=1.0).brief(demo_groups(), "en").kind == "llm"  # own words: 1.0


def test_a_cached_unfaithful_answer_is_refused_too(llm_server: LLMServer, make: Make) -> None:
    cache = MemoryBriefingCache()
    key = cache_key([p.key for g in demo_groups() for p in g.papers], "en", "test-model")
    cache.put(key, FABRICATED[0], "test-model")  # written under a laxer setting, say
    briefer = make(cache=cache)
    briefing = briefer.brief(demo_groups(), "en")
    assert briefer.unfaithful == 1 and briefer.cache_hits == 0
    assert llm_server.count == 1 and briefing.kind == "llm"  # asked again: a faithful answer
    assert cache.get(key) == briefing.text


@pytest.mark.parametrize("per", ["digest", "theme"])
def test_a_fabricating_model_sends_the_extractive_briefing_and_the_run_counts_it(
        tmp_path: Path, feed_server: FeedServer, smtp_server: Callable[..., object],
        llm_server: LLMServer, per: str) -> None:
    llm_server.mode = "fabricate"
    smtp = smtp_server()
    world = llm_reader_world(tmp_path, feed_server, smtp.url(),  # type: ignore[attr-defined]
                             llm_server.base_url, per)

    report = world.app.send.send()
    assert report.counts["sent"] == 1 and report.counts["llm_unfaithful"] == 1, report
    assert llm_server.count == 1
    (received,) = smtp.messages  # type: ignore[attr-defined]
    text, html = parts(parse(received.content))
    assert "Briefing extracted from today's abstracts" in text
    assert "radiologists" not in text and "radiologists" not in html
    with Session(world.app.engine) as session:
        (delivery,) = session.exec(Delivery.__table__.select()).all()  # type: ignore[attr-defined]
        (run,) = [r for r in db.runs.recent(session) if r.kind == "send"]
    assert delivery.briefing_kind == "extractive"
    assert run.counts["llm_unfaithful"] == 1  # what `digest-mailer runs` and /admin show
