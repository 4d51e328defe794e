"""Chinese text analysis: normalisation and jieba segmentation (search mode), lazy, one per dictionary.

jieba is used with HMM off so that documents and queries are cut the same way: words jieba does not know
fall apart into single characters on both sides, which still match. The dictionary is jieba's own plus the
domain words (:func:`search.synonyms.dictionary_words` of the labels the app passes in); :func:`analyzer`
keeps one :class:`Analyzer` per dictionary for the whole process.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import warnings
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from typing import Any, Final

from search.synonyms import STOP_WORDS, dictionary_words

STOPWORDS: Final[frozenset[str]] = frozenset(STOP_WORDS)

_jieba_lock = threading.Lock()


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or "\u4e00" <= ch <= "\u9fff"


def normalize(text: str) -> str:
    """NFKC (full-width to half-width) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


@cache
def _jieba() -> Any:
    """The jieba module, imported on first use (it is slow to import and noisy)."""
    with warnings.catch_warnings():
        # jieba imports pkg_resources, which warns about the deprecated API and about sys.path
        warnings.simplefilter("ignore")
        import jieba

    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    return jieba


@cache
def _plain_tokenizer() -> Any:
    """jieba with its own dictionary only (how a segmenter that lacks the domain words cuts a text)."""
    with _jieba_lock:
        tok = _jieba().Tokenizer()
        tok.initialize()
    return tok


def plain_words(text: str) -> list[str]:
    """The words of a text cut by jieba's own dictionary (precise mode, HMM off), stop words kept."""
    return [w for w in (s.strip() for s in _plain_tokenizer().cut(normalize(text), HMM=False)) if w]


def _keep(token: str) -> bool:
    return bool(token) and token not in STOPWORDS and any(_is_word_char(c) for c in token)


@lru_cache(maxsize=1)
def _block_pattern() -> re.Pattern[str]:
    """jieba's own pattern for the runs of characters it segments (the rest it emits one by one)."""
    pattern: re.Pattern[str] = _jieba().re_han_default
    return pattern


class Analyzer:
    """jieba's tokenizer with a domain dictionary (initialised on first use), and caches of its cuts."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words: tuple[str, ...] = tuple(words)
        self._tokenizer: Any = None
        self._block_tokens: Callable[[str], tuple[str, ...]] = lru_cache(maxsize=65536)(self._cut_block)
        self.query_words: Callable[[str], tuple[str, ...]] = lru_cache(maxsize=4096)(self._query_words)
        self.sub_words: Callable[[str], tuple[str, ...]] = lru_cache(maxsize=8192)(self._sub_words)

    def tokenizer(self) -> Any:
        """The jieba tokenizer with this dictionary."""
        if self._tokenizer is not None:
            return self._tokenizer
        with _jieba_lock:
            if self._tokenizer is None:
                tok = _jieba().Tokenizer()
                tok.initialize()
                for word in self.words:
                    # make sure the word wins against its parts, whatever jieba's base frequencies
                    tok.add_word(word.lower(), freq=max(tok.suggest_freq(word.lower(), False), 2000))
                self._tokenizer = tok
        return self._tokenizer

    def _cut_block(self, block: str) -> tuple[str, ...]:
        return tuple(t for t in (s.strip() for s in self.tokenizer().cut_for_search(block, HMM=False)) if _keep(t))

    def index_tokens(self, text: str | None) -> list[str]:
        """Tokens to index for a text: search-mode segmentation (words and their dictionary sub-words).

        jieba cuts each run of word characters (its ``re_han_default`` blocks) independently and emits the
        characters between them one by one, so segmenting block by block gives the same tokens; blocks repeat
        a lot across listings (category labels, eligibility, stock phrases), so they are segmented once each.
        """
        if not text:
            return []
        out: list[str] = []
        for block in _block_pattern().split(normalize(text)):
            if block:
                out.extend(self._block_tokens(block))
        return out

    def index_tokens_many(self, texts: Iterable[str | None]) -> list[str]:
        out: list[str] = []
        for text in texts:
            out.extend(self.index_tokens(text))
        return out

    def _query_words(self, q: str) -> tuple[str, ...]:
        """The words of a query (precise segmentation of each whitespace-separated part), deduplicated."""
        tok = self.tokenizer()
        words: list[str] = []
        for part in normalize(q).split():
            for word in tok.cut(part, HMM=False):
                word = word.strip()
                if _keep(word) and word not in words:
                    words.append(word)
        return tuple(words)

    def _sub_words(self, word: str) -> tuple[str, ...]:
        """Dictionary sub-words of a word (search mode), without the word itself."""
        tok = self.tokenizer()
        return tuple(t for t in tok.cut_for_search(word, HMM=False) if t != word and _keep(t) and len(t) > 1)


@cache
def _analyzer(words: tuple[str, ...]) -> Analyzer:
    return Analyzer(words)


def analyzer(labels: Iterable[str] = ()) -> Analyzer:
    """The process-wide analyzer whose dictionary holds these labels (see :func:`dictionary_words`)."""
    return _analyzer(tuple(dictionary_words(labels)))
