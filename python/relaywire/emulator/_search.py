"""Lexical search shared by both platforms' knowledge bases: chunking and Okapi BM25.

Deterministic and dependency-free: the same corpus and query always give the same ranking
(ties broken by insertion order), so tests can assert on results.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Chunk", "SearchIndex", "chunk_text", "count_tokens", "tokenize"]

_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common to carry meaning in a query; kept small and English-only on purpose.
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "you",
        "your",
        "my",
        "can",
    ]
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """Case- and accent-folded word tokens without stopwords, each lightly stemmed."""
    return [_stem(word) for word in _WORD.findall(_fold(text)) if word not in _STOPWORDS]


def count_tokens(text: str) -> int:
    """A rough model-token count (about four characters per token), at least 1 for any text."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _stem(word: str) -> str:
    # Enough to match "reset"/"resetting"/"resets" and "password"/"passwords".
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            stem = word[: -len(suffix)]
            # "resetting" -> "resett" -> "reset"; keep "ll"/"ss" as in "calling", "passes".
            if suffix in ("ing", "ed") and stem[-1] == stem[-2] and stem[-1] not in "lsz":
                stem = stem[:-1]
            return stem
    return word


def chunk_text(text: str, size: int = 800, overlap: int = 100) -> list[str]:
    """Split ``text`` into chunks of at most ``size`` characters, on paragraph, sentence or word
    boundaries where possible, each starting ``overlap`` characters before the previous end."""
    if size < 1 or not 0 <= overlap < size:
        raise ValueError("chunking needs size >= 1 and 0 <= overlap < size")
    text = text.strip()
    if not text:
        return []
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            window = text[start:end]
            cut = max(window.rfind("\n\n"), window.rfind(". "), window.rfind("\n"))
            if cut <= size // 2:
                cut = window.rfind(" ")
            if cut > size // 2:
                end = start + cut + 1
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
        # Do not start the next chunk in the middle of a word.
        while 0 < start < len(text) and not text[start - 1].isspace() and start < end:
            start += 1
    return chunks


@dataclass
class Chunk:
    """One searchable piece of a document."""

    id: str
    content: str
    source_id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    document_id: str | None = None
    index: int = 0
    terms: Counter[str] = field(default_factory=Counter, repr=False)
    length: int = 0


class SearchIndex:
    """An in-memory BM25 index over chunks (k1 = 1.2, b = 0.75)."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._chunks: dict[str, Chunk] = {}
        self._doc_freq: Counter[str] = Counter()
        self._total_length = 0

    def __len__(self) -> int:
        return len(self._chunks)

    def add(self, chunk: Chunk) -> Chunk:
        if chunk.id in self._chunks:
            self.remove(chunk.id)
        tokens = tokenize(chunk.content)
        chunk.terms = Counter(tokens)
        chunk.length = len(tokens)
        self._chunks[chunk.id] = chunk
        self._doc_freq.update(chunk.terms.keys())
        self._total_length += chunk.length
        return chunk

    def remove(self, chunk_id: str) -> Chunk | None:
        chunk = self._chunks.pop(chunk_id, None)
        if chunk is not None:
            self._doc_freq.subtract(chunk.terms.keys())
            self._total_length -= chunk.length
        return chunk

    def remove_where(self, predicate: Callable[[Chunk], bool]) -> int:
        doomed = [chunk.id for chunk in self._chunks.values() if predicate(chunk)]
        for chunk_id in doomed:
            self.remove(chunk_id)
        return len(doomed)

    def chunks(self) -> Iterable[Chunk]:
        return self._chunks.values()

    def search(
        self,
        query: str,
        top_k: int = 5,
        *,
        source_ids: Iterable[str] | None = None,
        metadata_equals: Mapping[str, Any] | None = None,
        min_score: float = 0.0,
    ) -> list[tuple[Chunk, float]]:
        """The best ``top_k`` chunks for ``query`` with their scores, best first.

        Scores are BM25 normalised into (0, 1] by the best possible score of the query, so a
        threshold means the same thing across corpora."""
        terms = tokenize(query)
        if not terms or top_k < 1 or not self._chunks:
            return []
        allowed = set(source_ids) if source_ids is not None else None
        count = len(self._chunks)
        avg_length = self._total_length / count if count else 0.0
        idf = {
            term: math.log(1 + (count - self._doc_freq[term] + 0.5) / (self._doc_freq[term] + 0.5))
            for term in set(terms)
        }
        best_possible = sum(idf[term] * (self.k1 + 1) for term in terms) or 1.0
        scored: list[tuple[float, int, Chunk]] = []
        for order, chunk in enumerate(self._chunks.values()):
            if allowed is not None and chunk.source_id not in allowed:
                continue
            if metadata_equals and any(
                chunk.metadata.get(key) != value for key, value in metadata_equals.items()
            ):
                continue
            score = 0.0
            norm = self.k1 * (1 - self.b + self.b * chunk.length / (avg_length or 1.0))
            for term in terms:
                freq = chunk.terms.get(term, 0)
                if freq:
                    score += idf[term] * freq * (self.k1 + 1) / (freq + norm)
            if score > 0:
                scored.append((score / best_possible, order, chunk))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [
            (chunk, round(score, 6)) for score, _, chunk in scored[:top_k] if score >= min_score
        ]
