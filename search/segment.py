"""jieba, loaded once and quietly, and the text normalisation every cut starts with (shared by the analyzer of
:mod:`search.text` and the synonym expansion of :mod:`search.synonyms`)."""

from __future__ import annotations

import logging
import threading
import unicodedata
import warnings
from functools import cache
from typing import Any

# jieba's tokenizers are initialised under it (initialisation is not thread-safe)
jieba_lock = threading.Lock()


def normalize(text: str) -> str:
    """NFKC (full-width to half-width) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


@cache
def jieba_module() -> Any:
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
    with jieba_lock:
        tok = jieba_module().Tokenizer()
        tok.initialize()
    return tok


def plain_words(text: str) -> list[str]:
    """The words of a text cut by jieba's own dictionary (precise mode, HMM off), stop words kept."""
    return [w for w in (s.strip() for s in _plain_tokenizer().cut(normalize(text), HMM=False)) if w]
