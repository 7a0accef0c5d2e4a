"""Applicants who follow their own application in the official account.

The filing agent shows the applicant a temporary QR code (scene `app:<token>`); scanning it
links the applicant's openid to the application — one openid per application, the first scan
keeps it. From then on the applicant is told the decision, the handler assigned, a termination
and the closing, and the case's satisfaction callback reaches them without a closing-notice QR
(the case is bound to the same openid when it arrives).
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

SCENE_PREFIX = "app"  # QR scene "app:<token>"; scenes are at most 64 characters
QR_DAYS = 30  # WeChat's longest temporary QR code


class ApplicantInvitation(Model):
    id = fields.IntField(primary_key=True)
    application_id = fields.IntField(db_index=True)
    token = fields.CharField(max_length=32, unique=True)
    qr_url = fields.CharField(max_length=512, null=True)  # made on first use in chat
    expires_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "applicant_invitation"

    @property
    def scene(self) -> str:
        return f"{SCENE_PREFIX}:{self.token}"


class ApplicantFollow(Model):
    """The one openid that follows an application."""

    id = fields.IntField(primary_key=True)
    application_id = fields.IntField(unique=True)
    openid = fields.CharField(max_length=64, db_index=True)
    bound_at = fields.DatetimeField()

    class Meta:
        table = "applicant_follow"
