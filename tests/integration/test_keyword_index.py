"""The keyword index shipped beside the knowledge base: what building it from the knowledge base
gives now, used when its fingerprint matches, and retrieval identical with it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from structlog.testing import capture_logs

from app.containers import CliContainer
from app.infrastructure.morphology.base import Morphology
from app.infrastructure.retrieval.bm25 import BM25Retriever
from app.infrastructure.retrieval.factories import kiwi_morphology
from app.infrastructure.retrieval.index import (
    REGENERATE,
    build_index,
    fingerprint,
    index_path,
    shipped_index,
)
from app.infrastructure.retrieval.knowledge_base import load_items
from app.settings import load_settings

EVAL = Path(__file__).resolve().parent.parent / "data" / "retrieval_eval.yaml"


def built_now(morphology: Morphology) -> str:
    items = load_items()
    return build_index(items, morphology).to_json(
        fingerprint(items, morphology.name), morphology.name
    )


def test_the_shipped_index_is_what_the_knowledge_base_gives_now(morphology: Morphology) -> None:
    """Fails after an edit of the knowledge base, the tokeniser or Kiwi's version until the
    files are written again."""
    path = index_path(morphology.name)
    shipped = path.read_text(encoding="utf-8") if path.exists() else ""
    assert shipped == built_now(morphology), (
        f"{path.name} is stale: run `{REGENERATE}` (or `make index`) and commit what it writes"
    )


def test_kiwi_taught_the_shipped_words_indexes_alike(kiwi: Morphology) -> None:
    """The shipped path (the taught words given, one model build) and the searching one (each
    name analysed, then taught) give the same Kiwi."""
    index = shipped_index(load_items(), "kiwi")
    assert index is not None and index.taught == getattr(kiwi, "taught", ())
    assert built_now(kiwi_morphology(index)) == built_now(kiwi)


def test_retrieval_ranks_alike_with_the_shipped_index(morphology: Morphology) -> None:
    items = load_items()
    index = shipped_index(items, morphology.name)
    assert index is not None
    built, shipped = BM25Retriever(items, morphology), BM25Retriever(items, morphology, index)
    for question in yaml.safe_load(EVAL.read_text(encoding="utf-8")):
        assert shipped.rank(question["q"], 5) == built.rank(question["q"], 5), question["q"]


@pytest.mark.parametrize("choice", ["rules", "kiwi"])
def test_the_container_takes_the_shipped_index(choice: str) -> None:
    container = CliContainer(settings=load_settings(retrieval={"morphology": choice}))
    with capture_logs() as logs:
        assert container.retrieval.keyword_index() is not None
    assert logs == []


def test_a_stale_or_missing_index_is_rebuilt_with_a_warning(tmp_path: Path) -> None:
    items = load_items()
    stale = tmp_path / "stale.json"
    text = index_path("rules").read_text(encoding="utf-8")
    stale.write_text(text.replace(fingerprint(items, "rules"), "0" * 64), encoding="utf-8")
    with capture_logs() as logs:
        assert shipped_index(items, "rules", stale) is None
        assert shipped_index(items, "rules", tmp_path / "missing.json") is None
        assert shipped_index(items[:-1], "rules") is None  # another knowledge base
    assert [log["event"] for log in logs] == ["retrieval.index_rebuilt"] * 3
    assert all(REGENERATE in log["fix"] for log in logs)
    assert "stale" in logs[0]["shipped"] and "unreadable" in logs[1]["shipped"]
