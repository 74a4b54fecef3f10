"""TL;DRs on the cards: one per paper for a whole batch of readers, asked in batched calls."""

from __future__ import annotations

import json
import math
import re

from sqlmodel import Session, select
from test_pipeline import READERS, received, smtp_world
from world import parts

from digest_mailer.briefing.tldr import TLDR_BATCH, parse_tldrs
from digest_mailer.db.models import Delivery, Entry
from digest_mailer.domain.digest import Paper


def test_tldrs_are_asked_once_per_paper_for_every_reader_of_a_batch(
        tmp_path, feed_server, smtp_server, llm_server, database_url) -> None:
    smtp = smtp_server()
    world = smtp_world(tmp_path, feed_server, smtp, database_url,
                       openai_base_url=llm_server.base_url, openai_api_key="sk-test")
    # Two more readers of the same fields: more digests, not more papers.
    world.subscribe("vision2@example.org", ["cs.CV", "cs.LG"])
    world.subscribe("nlp2@example.org", ["cs.CL", "cs.AI"])
    world.app.ingest.refresh()
    report = world.app.send.send()
    assert report.counts["sent"] == len(READERS) + 2, report

    with Session(world.app.engine) as session:
        keys = {k for d in session.exec(select(Delivery)) for k in d.entry_keys}
        entries = list(session.exec(select(Entry).where(Entry.key.in_(keys))))  # type: ignore[attr-defined]
    asked = [int(n) for body in llm_server.tldr_requests
             for n in re.findall(r'<paper n="(\d+)">', body["messages"][1]["content"])]
    # Every paper of every digest asked for exactly once, TLDR_BATCH a call.
    assert len(asked) == len(keys) > TLDR_BATCH, (len(asked), len(keys))
    assert len(llm_server.tldr_requests) == math.ceil(len(keys) / TLDR_BATCH)
    assert report.counts["llm_tldr_calls"] == len(llm_server.tldr_requests)
    # The cards carry them: a paper's line is the same in every digest it is in.
    lines: dict[str, set[str]] = {}
    for messages in received(smtp).values():
        _, text = parts(messages[0])
        text = " ".join(text.split())  # the text part wraps long lines
        for entry in entries:
            if entry.title in text:
                tldr = f"Introduces {entry.title.rstrip('.')}."[:60]  # long ones are cut
                lines.setdefault(entry.key, set()).add(tldr if tldr in text else "")
    bad = {k: v for k, v in lines.items() if "" in v}
    assert not bad, [(e.title, e.key) for e in entries if e.key in bad][:3]
    assert lines and all(found == {f"Introduces {e.title.rstrip('.')}."[:60]}
                         for e in entries for found in [lines.get(e.key, set())] if found)

    # Asked again (the next batch, another worker): nothing is asked, all come from the cache.
    before = len(llm_server.tldr_requests)
    papers = [Paper(number=0, key=e.key, title=e.title, abstract=e.abstract, authors=(),
                    link="", badge="", category="", categories=()) for e in entries]
    again = world.app.briefer.tldrs(papers, None)
    assert len(llm_server.tldr_requests) == before and len(again) == len(entries)


def test_a_tldr_answer_is_checked_line_by_line() -> None:
    answer = json.dumps({"1": "Distils a diffusion model into four steps [1].",
                         "2": "See https://evil.example/x for more",
                         "3": "x" * 400, "9": "no such paper", "two": "bad key"})
    lines = parse_tldrs("Sure! " + answer, 3)
    assert lines[1] == "Distils a diffusion model into four steps."  # no citation on a card
    assert 2 not in lines  # a link is refused
    assert len(lines[3]) <= 160
    assert set(lines) == {1, 3}
