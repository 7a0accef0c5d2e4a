"""Message catalogs and the loader.

Each locale is a directory of JSON files (one per feature, so features do not edit one shared
file); all files of a locale merge into one flat catalog of `key -> text`. Texts use
`{placeholder}` fields filled by `t()`, never f-strings, so translators see whole sentences.
zh_CN is the default and the fallback for a key a locale lacks (the tests forbid that anyway).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

DEFAULT_LOCALE = "zh_CN"
LOCALES = ("zh_CN", "en")
_DIR = Path(__file__).parent


@cache
def catalog(locale: str) -> dict[str, str]:
    """The merged catalog of one locale; a key defined in two files is an error."""
    merged: dict[str, str] = {}
    for path in sorted((_DIR / locale).glob("*.json")):
        for key, text in json.loads(path.read_text("utf-8")).items():
            if key in merged:
                raise ValueError(f"i18n key {key!r} defined twice in {locale}")
            merged[key] = text
    return merged


def normalize_locale(value: str | None) -> str:
    """Map 'en', 'en-US', 'en_GB', 'zh', 'zh-CN', None ... to a shipped locale."""
    if value in LOCALES:  # what a conversation stores: every chat reply's texts come this way
        return value
    if value and value.strip().lower().startswith("en"):
        return "en"
    return DEFAULT_LOCALE


def locale_from_accept_language(header: str | None) -> str:
    """Pick the first supported language of an Accept-Language header (q-values ignored)."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return DEFAULT_LOCALE
    return DEFAULT_LOCALE


def t(key: str, locale: str | None = None, /, **fields: object) -> str:
    """Translate `key` into `locale`, filling `{placeholders}` from `fields`."""
    loc = normalize_locale(locale)
    text = catalog(loc).get(key)
    if text is None:
        text = catalog(DEFAULT_LOCALE).get(key, key)
    return text.format(**fields) if fields else text
