"""`python -m bot staff add`: a registered openid is not silently renamed (issue 11, item 10)."""

from __future__ import annotations

import pytest

from tests.test_agents import _cli

pytestmark = pytest.mark.slow


def test_staff_add_refuses_a_registered_openid_unless_update(tmp_path):
    add = ("staff", "add", "--region", "330602", "--openid", "o-staff-cli-1")
    first = _cli(tmp_path, *add, "--name", "王主任", "--supervisor")
    assert first.returncode == 0, first.stderr
    assert "added supervisor" in first.stdout
    again = _cli(tmp_path, *add, "--name", "李四")
    assert again.returncode == 1 and "already registered" in again.stderr
    assert "--update" in again.stderr and "o-staff-cli-1" not in again.stderr  # masked
    listed = _cli(tmp_path, "staff", "list").stdout
    assert "王主任" in listed and "李四" not in listed
    updated = _cli(tmp_path, *add, "--name", "李四", "--update")
    assert updated.returncode == 0 and "updated staff" in updated.stdout
    assert "李四" in _cli(tmp_path, "staff", "list").stdout
