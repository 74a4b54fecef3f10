"""The README is the settings' documentation: it must name every one of them."""

from __future__ import annotations

from conftest import REPO

from digest_mailer.settings import known_variables


def test_readme_documents_every_setting():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [name for name in known_variables() if f"`{name}`" not in readme]
    assert missing == []


def test_readme_gives_the_two_commands_and_ci_calls_the_test_one():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")
