"""The keyword index built ahead of time: what BM25 retrieval derives from the knowledge base
through a morphology (each field's weighted tokens, the one-syllable names' keys, the speller's
words, the names Kiwi must be taught). It ships as JSON beside the knowledge base, one file per
morphology (`python -m app index` writes them), and is used when its fingerprint matches the
knowledge base, the tokeniser's code and the analyser's version; otherwise it is built at
start-up, as before, with a warning."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import structlog

from app.domain.waste import WasteItem
from app.infrastructure import korean_text
from app.infrastructure.korean_text import is_hangul_word, words
from app.infrastructure.morphology import base
from app.infrastructure.morphology.base import Morphology
from app.infrastructure.retrieval import spelling, tokens
from app.infrastructure.retrieval.spelling import speller_words
from app.infrastructure.retrieval.tokens import Tokenizer

log = structlog.get_logger(__name__)

FORMAT = 1  # bump when the file's layout changes
DATA = Path(__file__).with_name("data")
REGENERATE = "python -m app index"  # or `make index`
# The analysers whose output the index holds: their distributions' versions enter the print.
ANALYSERS = {"kiwi": ("kiwipiepy", "kiwipiepy_model"), "rules": ()}


def index_path(morphology: str) -> Path:
    return DATA / f"keyword_index.{morphology}.json"


def name_text(item: WasteItem) -> str:
    return " ".join([item.name_ko, item.name_en, *item.aliases_ko, *item.aliases_en])


def body_text(item: WasteItem) -> str:
    return " ".join(
        [
            item.category.value.replace("_", " "),
            *item.steps_ko,
            *item.steps_en,
            item.notes_ko,
            item.notes_en,
        ]
    )


@dataclass(frozen=True)
class FieldTokens:
    """One field's documents as BM25 sees them: postings (document, term frequency) per term,
    in document order, and each document's length."""

    postings: dict[str, list[tuple[int, float]]]
    lengths: list[float]

    @classmethod
    def build(cls, texts: Sequence[str], tokenizer: Tokenizer) -> FieldTokens:
        postings: defaultdict[str, list[tuple[int, float]]] = defaultdict(list)
        for index, text in enumerate(texts):
            for term, tf in tokenizer.weighted(text).items():
                postings[term].append((index, tf))
        return cls(dict(postings), [tokenizer.length(text) for text in texts])


@dataclass(frozen=True)
class KeywordIndex:
    """Everything retrieval needs from a morphology before the first question."""

    names: FieldTokens
    bodies: FieldTokens
    whole_names: dict[str, frozenset[int]]  # a one-syllable name's key -> its items
    spelt: frozenset[str]  # the speller's words, as the knowledge base writes them
    known: frozenset[str]  # the words it leaves alone (spelt, and their stems)
    taught: tuple[str, ...]  # the names Kiwi misreads and is taught (none for the rules)

    def to_json(self, fingerprint: str, morphology: str) -> str:
        """A term's postings flattened; a line per term, keys sorted: a stable file to diff."""

        def field(tokens: FieldTokens) -> dict[str, Any]:
            return {
                "lengths": tokens.lengths,
                "postings": {t: [x for p in ps for x in p] for t, ps in tokens.postings.items()},
            }

        document = {
            "format": FORMAT,
            "morphology": morphology,
            "fingerprint": fingerprint,
            "taught": list(self.taught),
            "spelt": sorted(self.spelt),
            "known": sorted(self.known),
            "whole_names": {key: sorted(found) for key, found in self.whole_names.items()},
            "names": field(self.names),
            "bodies": field(self.bodies),
        }
        return _layout(document) + "\n"

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> KeywordIndex:
        def field(raw: dict[str, Any]) -> FieldTokens:
            postings = {
                term: list(zip(flat[::2], map(float, flat[1::2]), strict=True))
                for term, flat in raw["postings"].items()
            }
            return FieldTokens(postings, [float(n) for n in raw["lengths"]])

        return cls(
            names=field(document["names"]),
            bodies=field(document["bodies"]),
            whole_names={k: frozenset(v) for k, v in document["whole_names"].items()},
            spelt=frozenset(document["spelt"]),
            known=frozenset(document["known"]),
            taught=tuple(document["taught"]),
        )


def _layout(value: Any, depth: int = 0) -> str:
    """JSON with a line per key of the outer three levels of objects (a term is at the third)."""
    if not isinstance(value, dict) or depth == 3:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    inner = ",\n".join(
        f"{json.dumps(key, ensure_ascii=False)}: {_layout(value[key], depth + 1)}"
        for key in (sorted(value) if depth else value)
    )
    return "{\n" + inner + "\n}"


def build_index(items: Sequence[WasteItem], morphology: Morphology) -> KeywordIndex:
    """The index from the knowledge base, through the morphology (seconds of CPU with Kiwi)."""
    tokenizer = Tokenizer(morphology)
    whole_names: defaultdict[str, set[int]] = defaultdict(set)
    for index, item in enumerate(items):
        for name in (item.name_ko, *item.aliases_ko):
            key = tokenizer.content_key(name)
            if len(key) == 1 and is_hangul_word(key):
                whole_names[key].add(index)
    spelt, known = speller_words((w for i in items for w in words(name_text(i))), morphology)
    return KeywordIndex(
        names=FieldTokens.build([name_text(i) for i in items], tokenizer),
        bodies=FieldTokens.build([body_text(i) for i in items], tokenizer),
        whole_names={key: frozenset(found) for key, found in whole_names.items()},
        spelt=frozenset(spelt),
        known=frozenset(known),
        taught=tuple(getattr(morphology, "taught", ())),
    )


def _tokeniser_modules(morphology: str) -> list[ModuleType]:
    """The code whose output the index holds (this module included: it builds it)."""
    from importlib import import_module

    analyser = import_module(f"app.infrastructure.morphology.{morphology}")
    return [korean_text, base, analyser, tokens, spelling, import_module(__name__)]


def fingerprint(items: Iterable[WasteItem], morphology: str) -> str:
    """What the index was built from: the texts it indexes (from the knowledge base's files),
    the tokeniser's source and the analyser's version. Any change means a stale index."""
    digest = hashlib.sha256(f"format {FORMAT}\nmorphology {morphology}\n".encode())
    for distribution in ANALYSERS[morphology]:
        digest.update(f"{distribution} {metadata.version(distribution)}\n".encode())
    for module in _tokeniser_modules(morphology):
        digest.update(Path(module.__file__ or "").read_bytes())
    for item in items:
        texts = [item.name_ko, *item.aliases_ko, "\0", name_text(item), "\0", body_text(item)]
        digest.update(json.dumps(texts, ensure_ascii=False).encode())
    return digest.hexdigest()


def shipped_index(
    items: Sequence[WasteItem], morphology: str, path: Path | None = None
) -> KeywordIndex | None:
    """The shipped index for this morphology, or None (logged) when it is missing or stale."""
    path = path or index_path(morphology)
    expected = fingerprint(items, morphology)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        found = f"unreadable ({exc.__class__.__name__})"
    else:
        if document.get("format") == FORMAT and document.get("fingerprint") == expected:
            return KeywordIndex.from_json(document)
        found = "stale (built from another knowledge base, tokeniser or analyser version)"
    log.warning(
        "retrieval.index_rebuilt",
        morphology=morphology,
        path=str(path),
        shipped=found,
        cost="built at start-up: seconds of CPU per process with Kiwi",
        fix=f"run `{REGENERATE}` and ship the files it writes",
    )
    return None


def write_index(items: Sequence[WasteItem], morphology: Morphology, path: Path) -> bool:
    """Build and write one index; whether the file changed."""
    text = build_index(items, morphology).to_json(
        fingerprint(items, morphology.name), morphology.name
    )
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True
