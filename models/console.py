"""The staff console's own records: login attempts, sessions, and the audit of staff actions.

Everything lives in the database so any worker can serve any request of a browser: a login
started on one worker (the QR code shown) is completed by the SCAN event on another and polled
on a third. Only hashes of the browser's secrets (session cookie, pre-login cookie) are kept.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class LoginStatus(StrEnum):
    PENDING = "pending"  # QR code shown, nobody scanned yet
    OK = "ok"  # an active staff member or expert scanned; the browser may now take its session
    DENIED = "denied"  # scanned by someone who is neither active staff nor an active expert
    USED = "used"  # the session was issued; the scene is spent


class ConsoleLogin(Model):
    """One login in progress: a QR scene (`login:<token>`) or an OAuth `state`, bound to the
    browser that started it by the hash of its pre-login cookie."""

    id = fields.IntField(primary_key=True)
    token = fields.CharField(max_length=40, unique=True)  # scene body or OAuth state
    kind = fields.CharField(max_length=8)  # scan | oauth
    browser_hash = fields.CharField(max_length=64)
    next_path = fields.CharField(max_length=200, default="/console/")
    status = fields.CharField(max_length=8, default=LoginStatus.PENDING)
    staff = fields.ForeignKeyField(
        "models.Staff", related_name="console_logins", null=True, on_delete=fields.OnDelete.CASCADE
    )
    expert = fields.ForeignKeyField(
        "models.Expert", related_name="console_logins", null=True, on_delete=fields.OnDelete.CASCADE
    )  # the scanner is (also) an evaluation expert
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "console_login"


class ConsoleSession(Model):
    """A signed-in browser. The cookie carries a random token, and only its hash is stored.

    Who signed in: a staff member, an evaluation expert (models.evaluation.Expert, the expert's
    page only), or a staff member who is also an expert (their staff role, plus the expert's
    page). At least one of the two is set."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    csrf = fields.CharField(max_length=64)  # per-session token every form posts back
    staff = fields.ForeignKeyField(
        "models.Staff",
        related_name="console_sessions",
        null=True,
        on_delete=fields.OnDelete.CASCADE,
    )
    expert = fields.ForeignKeyField(
        "models.Expert",
        related_name="console_sessions",
        null=True,
        on_delete=fields.OnDelete.CASCADE,
    )
    via = fields.CharField(max_length=8)  # scan | oauth
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "console_session"


class StaffAudit(Model):
    """What a staff member did in the console that the law wants traceable: every reveal of
    a full ID number or phone (法律援助法 Art. 21, who/when/which record) and every decision."""

    id = fields.BigIntField(primary_key=True)
    staff = fields.ForeignKeyField(
        "models.Staff", related_name="audit", on_delete=fields.OnDelete.CASCADE
    )
    region = fields.CharField(max_length=12, db_index=True)
    action = fields.CharField(max_length=32)  # reveal_id_number, reveal_phone, decide, ...
    record = fields.CharField(max_length=64)  # application:12, callback:3, complaint:T…
    at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "staff_audit"
