"""The glossary in the reports and the one in docs/ name the same terms."""

from __future__ import annotations

import re
from pathlib import Path

from lossgap.render.glossary import TERMS

DOC = Path(__file__).resolve().parents[2] / "docs" / "glossary.md"


def test_docs_glossary_explains_every_term_of_the_reports():
    documented = re.findall(r"^\*\*(.+?)\*\*$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert documented == list(TERMS)


def test_every_term_is_explained_in_a_sentence_or_two():
    for term, text in TERMS.items():
        assert text.endswith(".") and 20 < len(text) < 260, term
