"""Both locales carry the same keys with the same placeholders, and code uses only real keys."""

from __future__ import annotations

import re
import string
from pathlib import Path

from i18n import LOCALES, catalog, locale_from_accept_language, t

ROOT = Path(__file__).resolve().parent.parent
# t("key", ...), ctx.t("key", ...), message_key="key", Step(..., "key", ...) prompts are checked
# at flow registration; here: literal first arguments of t()/ctx.t().
USE = re.compile(r"""\bt\(\s*["']([a-z0-9_]+(?:\.[a-zA-Z0-9_]+)+)["']\s*[,)]""")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_locales_have_the_same_keys_and_placeholders():
    zh, en = catalog("zh_CN"), catalog("en")
    assert set(zh) == set(en), {"only zh_CN": set(zh) - set(en), "only en": set(en) - set(zh)}
    mismatched = {k for k in zh if placeholders(zh[k]) != placeholders(en[k])}
    assert not mismatched, mismatched
    for loc in LOCALES:
        assert all(text.strip() for text in catalog(loc).values())


def test_every_literal_key_used_in_code_exists():
    keys = set(catalog("zh_CN"))
    missing = {}
    for path in [
        *ROOT.glob("bot/**/*.py"),
        *ROOT.glob("handlers/**/*.py"),
        *ROOT.glob("models/**/*.py"),
    ]:
        for key in USE.findall(path.read_text("utf-8")):
            if key not in keys:
                missing.setdefault(key, path.relative_to(ROOT).as_posix())
    assert not missing, missing


def test_flow_prompts_and_titles_exist():
    import handlers.flows  # noqa: F401  (registers flows)
    from bot.flowkit import FLOWS

    keys = set(catalog("zh_CN"))
    for flow in FLOWS.values():
        assert flow.title in keys, flow.name
        for step in flow.steps:
            if isinstance(step.prompt, str):
                assert step.prompt in keys, (flow.name, step.name)
            if not callable(step.choices):
                for choice in step.choices:
                    assert choice.label in keys, (flow.name, step.name, choice.value)


def test_locale_negotiation_and_fallback():
    assert locale_from_accept_language("en-US,en;q=0.9") == "en"
    assert locale_from_accept_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh_CN"
    assert locale_from_accept_language(None) == "zh_CN"
    assert t("menu.help", "fr") == t("menu.help", "zh_CN")
    assert t("no.such.key", "en") == "no.such.key"


def test_every_setting_is_documented_in_the_readme():
    from bot.settings import Settings

    readme = (ROOT / "README.md").read_text("utf-8")
    undocumented = [
        f"BOT_{name.upper()}"
        for name in Settings.model_fields
        if name != "dev_credentials" and f"BOT_{name.upper()}" not in readme
    ]
    assert not undocumented, undocumented
