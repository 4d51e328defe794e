"""Chinese text analysis: normalisation and jieba segmentation (search mode), process-wide and lazy.

jieba is used with HMM off so that documents and queries are cut the same way: words jieba does not know
fall apart into single characters on both sides, which still match.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import warnings
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Final

from search.synonyms import dictionary_words

_STOPWORDS_TEXT: Final = (
    "的 了 和 与 及 或 等 在 为 对 是 有 也 就 都 而 把 被 让 给 向 从 到 以 之 其 中 上 下 个 各 每 "
    "我 你 他 她 它 我们 你们 他们 这 那 这些 那些 一个 一些 进行 开展 提供 通过 可以 需要 相关 "
    "以及 并 将 由 于 所 如 该 着 过 吗 呢 吧 啊 a an the of and or to in for"
)
STOPWORDS: Final[frozenset[str]] = frozenset(_STOPWORDS_TEXT.split())

_lock = threading.Lock()
_tokenizer: Any = None


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or "\u4e00" <= ch <= "\u9fff"


def normalize(text: str) -> str:
    """NFKC (full-width to half-width) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def tokenizer() -> Any:
    """The process-wide jieba tokenizer with the domain dictionary, initialised on first use."""
    global _tokenizer
    if _tokenizer is not None:
        return _tokenizer
    with _lock:
        if _tokenizer is None:
            with warnings.catch_warnings():
                # jieba imports pkg_resources, which warns about the deprecated API and about sys.path
                warnings.simplefilter("ignore")
                import jieba

            jieba.setLogLevel(logging.WARNING)
            logging.getLogger("jieba").setLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tok.initialize()
            for word in dictionary_words():
                # make sure the word wins against its parts, whatever jieba's base frequencies
                tok.add_word(word.lower(), freq=max(tok.suggest_freq(word.lower(), False), 2000))
            _tokenizer = tok
    return _tokenizer


def _keep(token: str) -> bool:
    return bool(token) and token not in STOPWORDS and any(_is_word_char(c) for c in token)


@lru_cache(maxsize=1)
def _block_pattern() -> re.Pattern[str]:
    """jieba's own pattern for the runs of characters it segments (the rest it emits one by one)."""
    tokenizer()  # imports jieba
    import jieba

    pattern: re.Pattern[str] = jieba.re_han_default
    return pattern


@lru_cache(maxsize=65536)
def _block_tokens(block: str) -> tuple[str, ...]:
    return tuple(t for t in (s.strip() for s in tokenizer().cut_for_search(block, HMM=False)) if _keep(t))


def index_tokens(text: str | None) -> list[str]:
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
            out.extend(_block_tokens(block))
    return out


def index_tokens_many(texts: Iterable[str | None]) -> list[str]:
    out: list[str] = []
    for text in texts:
        out.extend(index_tokens(text))
    return out


@lru_cache(maxsize=4096)
def query_words(q: str) -> tuple[str, ...]:
    """The words of a query (precise segmentation of each whitespace-separated part), deduplicated."""
    tok = tokenizer()
    words: list[str] = []
    for part in normalize(q).split():
        for word in tok.cut(part, HMM=False):
            word = word.strip()
            if _keep(word) and word not in words:
                words.append(word)
    return tuple(words)


@lru_cache(maxsize=8192)
def sub_words(word: str) -> tuple[str, ...]:
    """Dictionary sub-words of a word (search mode), without the word itself."""
    tok = tokenizer()
    return tuple(t for t in tok.cut_for_search(word, HMM=False) if t != word and _keep(t) and len(t) > 1)
