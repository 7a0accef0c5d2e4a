"""The layers hold (DESIGN "Layout"): features (handlers) over the engine (bot) over the domain
(models) over the message catalogs (i18n), with the contracts in pyproject.toml
[tool.importlinter]. A lower layer importing a higher one fails here, with the import chain."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def lint_imports() -> str:
    """`lint-imports` of this interpreter's environment (the venv's bin dir), else on PATH."""
    beside = Path(sys.executable).parent / "lint-imports"
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail('lint-imports not installed: pip install -e ".[test]"')
    return found


def test_import_contracts_are_kept():
    run = subprocess.run(
        [lint_imports(), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_the_engine_serves_without_knowing_a_feature():
    """Importing the chat engine and the outbox pulls in no feature (handlers) module: features
    register with the engine, never the other way round."""
    code = (
        "import sys, bot.conversation, bot.notify, bot.outbox, bot.scheduler, bot.wechat.webhook;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'handlers'))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
