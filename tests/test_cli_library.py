"""`digest-mailer subscribers library` end to end: the real CLI in a subprocess on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, col, select
from test_cli import clean_env, cli

from digest_mailer import db
from digest_mailer.db.models import LibrarySeed
from digest_mailer.domain.digest import ParsedEntry

FILES = Path(__file__).parent / "library"


def stored(url: str) -> list[tuple[str, str | None, str | None, str]]:
    engine = db.engine.make_engine(url, auto_migrate=True)
    with Session(engine) as session:
        rows = session.exec(select(LibrarySeed).order_by(col(LibrarySeed.position))).all()
        found = [(r.title, r.arxiv_id, r.doi, r.kind) for r in rows]
    engine.dispose()
    return found


def test_library_file_list_append_statement_remove_and_refusals(tmp_path):
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    env = clean_env(DIGEST_DATABASE_URL=url)
    # One paper of the id list is already stored: its title and abstract fill the seed.
    engine = db.engine.make_engine(url, auto_migrate=True)
    with Session(engine) as session:
        source = db.sources.add(session, "https://rss.arxiv.org/rss/cs.LG", "arXiv", "cs.LG")
        db.entries.store(session, source, [ParsedEntry(
            key="1706.03762", title="Attention Is All You Need", abstract="Transformers.",
            authors=("A. Vaswani",), link="https://arxiv.org/abs/1706.03762",
            categories=("cs.CL",))], datetime(2026, 12, 1, 5, tzinfo=UTC))
        session.commit()
    engine.dispose()
    cli(tmp_path, "subscribers", "add", "ada@example.org", "--categories", "cs.LG", env=env)

    done = cli(tmp_path, "subscribers", "library", "ada@example.org",
               str(FILES / "ids.txt"), env=env)
    assert done.stdout.strip() == "6 seeds (1 resolved from stored papers)"
    assert stored(url)[:2] == [("", "2401.01234", None, "library"),
                               ("Attention Is All You Need", "1706.03762", None, "library")]

    # Replacing with the BibTeX library; then appending the RIS file adds its two papers.
    done = cli(tmp_path, "subscribers", "library", "ADA@example.org",
               str(FILES / "zotero.bib"), env=env)
    assert done.stdout.strip() == "3 seeds (0 resolved from stored papers)"  # all have text
    done = cli(tmp_path, "subscribers", "library", "ada@example.org",
               str(FILES / "mendeley.ris"), "--append", env=env)
    assert done.stdout.strip() == "2 seeds (0 resolved from stored papers)"
    again = cli(tmp_path, "subscribers", "library", "ada@example.org",
                str(FILES / "mendeley.ris"), "--append", env=env)
    assert again.stdout.strip() == ("0 seeds (0 resolved from stored papers), "
                                    "2 duplicates skipped")
    cli(tmp_path, "subscribers", "library", "ada@example.org",
        "--statement", "I work on diffusion models for 3D scenes", env=env)
    assert [t for t, *_ in stored(url)] == [
        "Attention Is All You Need", "Denoising Diffusion Probabilistic Models for "
        "Schrödinger bridges", "A note on Gröbner bases by Kollár",
        "Deep Residual Learning for Image Recognition", "Graph neural networks for molecules",
        ""]

    listing = cli(tmp_path, "subscribers", "library", "ada@example.org", "--list", env=env)
    lines = listing.stdout.splitlines()
    assert lines[-1] == "6 seeds"
    assert "Attention Is All You Need  [arXiv:1706.03762 doi:10.48550/arxiv.1706.03762]" in (
        lines[0])
    assert lines[5].endswith("statement: I work on diffusion models for 3D scenes")
    first_id = lines[0].split()[0]
    assert cli(tmp_path, "subscribers", "library", "ada@example.org", "--remove", first_id,
               env=env).stdout.strip() == f"seed {first_id} removed"
    gone = cli(tmp_path, "subscribers", "library", "ada@example.org", "--remove", first_id,
               env=env, expect=1)
    assert gone.stderr.strip() == f"ada@example.org has no seed {first_id}"

    # A bad file: one line naming the file and the line, exit 1, the library untouched.
    before = stored(url)
    bad = cli(tmp_path, "subscribers", "library", "ada@example.org",
              str(FILES / "unclosed.bib"), env=env, expect=1)
    assert bad.stderr.strip() == (f"{FILES / 'unclosed.bib'}: line 3: this entry is never "
                                  "closed (a '{' in it without its '}'?)")
    assert bad.stdout == ""
    cli(tmp_path, "subscribers", "library", "ada@example.org", str(FILES / "no_title.ris"),
        env=env, expect=1)
    assert stored(url) == before

    nobody = cli(tmp_path, "subscribers", "library", "eve@example.org", "--list", env=env,
                 expect=1)
    assert nobody.stderr.strip() == "no subscriber eve@example.org"
    missing = cli(tmp_path, "subscribers", "library", "ada@example.org",
                  str(tmp_path / "nope.bib"), env=env, expect=2)
    assert missing.stderr.startswith("cannot read")
    both = cli(tmp_path, "subscribers", "library", "ada@example.org",
               str(FILES / "ids.txt"), "--list", env=env, expect=2)
    assert "give one of FILE" in both.stderr


def test_resolve_asks_the_arxiv_api_for_id_only_seeds(tmp_path, feed_server):
    """`subscribers library --resolve` against a loopback server in the API's Atom."""
    from test_arxiv_api import FakeArxiv

    arxiv = FakeArxiv(feed_server)
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    env = clean_env(DIGEST_DATABASE_URL=url, DIGEST_ARXIV_API_URL=arxiv.url)
    engine = db.engine.make_engine(url, auto_migrate=True)
    with Session(engine) as session:
        db.sources.add(session, "https://rss.arxiv.org/rss/cs.LG", "arXiv", "cs.LG")
        session.commit()
    engine.dispose()
    cli(tmp_path, "subscribers", "add", "ada@example.org", "--categories", "cs.LG", env=env)
    cli(tmp_path, "subscribers", "library", "ada@example.org", str(FILES / "ids.txt"), env=env)
    done = cli(tmp_path, "subscribers", "library", "--resolve", env=env)
    assert done.stdout.strip() == ("4 arXiv ids without a title: 0 found among stored papers, "
                                   "2 of 4 asked found by the arXiv API")
    assert [t for t, *_ in stored(url)][1:3] == ["Attention Is All You Need",
                                                 "Denoising Diffusion Probabilistic Models"]
    again = cli(tmp_path, "subscribers", "library", "--resolve", env=env)
    assert "0 of 0 asked" in again.stdout and len(arxiv.asked) == 1  # within a day: not again
    off = cli(tmp_path, "subscribers", "library", "--resolve",
              env=clean_env(DIGEST_DATABASE_URL=url))
    assert off.stdout.strip() == ("2 arXiv ids without a title: 0 found among stored papers; "
                                  "no arXiv API is set (DIGEST_ARXIV_API_URL)")
    assert cli(tmp_path, "subscribers", "library", "ada@example.org", "--resolve",
               env=env, expect=2).stderr.startswith("--resolve takes no EMAIL")
