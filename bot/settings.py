"""Settings from the environment (prefix BOT_). Nothing is read at import time.

`Settings()` reads the environment; tests build `Settings(_env_file=None, database_url=...)`.
`resolve_dev_defaults()` fills what a developer did not configure (WeChat token and AES key,
BOT_SECRET_KEY) from a file under BOT_DATA_DIR, creating it once, so `python -m bot serve`
and `python -m bot chat` agree without any set-up.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRETS_FILE = "dev-secrets.json"  # under data_dir; never committed (data/ is ignored)
# Settings that are SecretStr: their repr is '**********', so a printed or logged Settings
# object shows none of them.
SECRET_FIELDS = frozenset(
    {
        "wechat_token",
        "wechat_app_secret",
        "wechat_aes_key",
        "wxa_app_secret",
        "center_webhook_secret",
        "secret_key",
        "old_secret_keys",
        "s3_secret_access_key",
    }
)


def reveal(value: SecretStr | str | None) -> str | None:
    """The plain text of a secret setting, or None when it is unset. Call it where the value is
    used (a signature, a key), never where it could be printed or logged."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BOT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    env: Literal["development", "production"] = "development"
    # None -> sqlite file in data_dir. DATABASE_URL (what Heroku-style platforms and most
    # managed databases set) is the fallback when BOT_DATABASE_URL is not set.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("BOT_DATABASE_URL", "DATABASE_URL")
    )
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")

    wechat_token: SecretStr | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_aes_key: SecretStr | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_max_clock_skew: int = 300  # seconds; 0 disables the check
    # With an AES key set, plain (unencrypted) POST /wechat is refused unless this is true:
    # only for the switch-over from plain to safe mode in the official account's admin.
    wechat_allow_plain: bool = False
    wechat_open_base: str = "https://open.weixin.qq.com"  # web authorisation (console OAuth)
    wxa_app_id: str | None = None
    wxa_app_secret: SecretStr | None = None

    wecom_webhook_url: str | None = None
    center_webhook_url: str | None = None
    center_webhook_secret: SecretStr | None = None

    # Template ids of the official account / mini-program (each account has its own ids).
    staff_template_id: str | None = None  # staff alerts and digests (template message)
    notice_template_id: str | None = None  # user notices when outside the 48 h window (45015)
    wxa_decision_template_id: str | None = None  # mini-program subscribe message: decisions

    secret_key: SecretStr | None = None  # encrypts personal data, hashes tokens
    old_secret_keys: SecretStr | None = None  # comma-separated keys still accepted for decryption
    policy: str = "national"
    timezone: str = "Asia/Shanghai"
    public_base_url: str = "http://127.0.0.1:8080"  # links in digests and pushes

    conversation_timeout: int = 30 * 60  # seconds of idleness before a flow is paused
    token_ttl_days: int = 7  # mini-program session token lifetime
    console_idle_timeout: int = 12 * 3600  # seconds a console session lives without a request
    outbox_max_attempts: int = 8  # then the row is 'failed' and visible to staff
    outbox_interval: float = 1.0  # seconds between dispatcher polls when idle
    scheduler_interval: float = 30.0  # seconds between scheduler ticks
    background: bool = True  # run the outbox dispatcher and scheduler in this process
    # /healthz answers 503 when the outbox or the scheduler has not completed a round for this
    # many seconds (the scheduler ticks every 30 s, the outbox at least every second).
    health_max_round_age: float = 60.0
    # SIGTERM: seconds in-flight requests (a slow 10 MB upload) and background rounds get to
    # finish; under the 30 s that systemd, Kubernetes and most platforms wait before SIGKILL.
    shutdown_timeout: float = 25.0
    # SIGTERM: seconds to keep accepting (with the probes at 503) before the listener closes,
    # so a load balancer polling /readyz takes this process out first. 0 behind plain nginx.
    shutdown_drain: float = 0.0
    # Slow clients (python -m bot serve): a request head must be complete within header_timeout
    # seconds (a head is < 8 KB: seconds even on 2G); a body may send nothing for body_timeout
    # seconds (counted as silence, so a slow upload that keeps moving is never cut). 0 = off.
    header_timeout: float = 20.0
    body_timeout: float = 60.0
    chat_rate_limit: int = 30  # messages per openid per minute before we answer 'slow down'
    # Chat batches a process runs at once on PostgreSQL (bot.conversation.Batcher); more help
    # when each round trip to the database is slow (another host), cost CPU when it is not.
    chat_lanes: int = Field(default=1, ge=1, le=8)
    # Conversation rows a process keeps between a user's messages on PostgreSQL, so the next
    # batch skips reading them (bot.conversation.RowCache; each about 1 KB); 0: read each time.
    chat_cache_rows: int = Field(default=10_000, ge=0)
    login_rate_limit: int = 20  # mini-program logins per client address per minute
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for collectors

    # Where materials and generated documents live: unset = <data_dir>/materials on this
    # machine; s3://bucket/prefix = S3-compatible object storage shared by several machines.
    storage_url: str | None = None
    s3_endpoint_url: str | None = None  # e.g. https://oss-cn-hangzhou.aliyuncs.com; unset = AWS
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region: str | None = None  # unset: us-east-1, which S3-compatible stores accept
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    # Our own reverse proxies (comma-separated CIDRs): only requests from these peers may name
    # the client in X-Forwarded-For. Default none: the peer address is the client.
    trusted_proxies: str = ""
    # The official account's own centre (6-digit region): complaints and 人工 requests of users
    # with no bound case go there. Unset: the region of the staff, when they are all in one.
    default_region: str | None = None

    # Filled by resolve_dev_defaults(); True when we generated WeChat credentials ourselves.
    dev_credentials: bool = Field(default=False, exclude=True)

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Settings:
        """A copy with `update` applied; plain strings given for secrets become SecretStr, as
        they would from the environment (model_copy itself does not validate)."""
        if update:
            update = {
                k: SecretStr(v) if k in SECRET_FIELDS and isinstance(v, str) else v
                for k, v in update.items()
            }
        return super().model_copy(update=update, deep=deep)

    @field_validator("storage_url")
    @classmethod
    def _storage_url(cls, value: str | None) -> str | None:
        """An unusable BOT_STORAGE_URL stops the start with its reason, not the first upload."""
        if value:
            from bot.storage import parse_storage_url

            parse_storage_url(value)
        return value or None

    @property
    def token(self) -> str:
        """The official account's message token, in plain text (signatures; never logged)."""
        return reveal(self.wechat_token) or ""

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        """Refuse a mistyped proxy list at start-up rather than trusting nobody silently."""
        from bot.clientaddr import parse_networks

        parse_networks(value)
        return value

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{(self.data_dir / 'bot.sqlite3').as_posix()}"

    @property
    def is_postgres(self) -> bool:
        return self.db_url.startswith(("postgres://", "postgresql://", "asyncpg://"))

    def resolve_dev_defaults(self) -> Settings:
        """Return settings with dev WeChat credentials and secret key filled in where unset.

        Production refuses to start without them rather than inventing keys.
        """
        missing_wechat = not self.wechat_token
        if self.env == "production":
            absent = [n for n in ("wechat_token", "secret_key") if not getattr(self, n)]
            if absent:
                names = ", ".join("BOT_" + n.upper() for n in absent)
                raise SystemExit(f"production needs {names}")
            return self
        if not missing_wechat and self.secret_key:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / DEV_SECRETS_FILE
        try:
            stored = json.loads(path.read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            stored = {}
        if not stored:
            stored = {
                "wechat_token": "dev" + secrets.token_hex(8),
                # 43 base64 chars = 32 bytes, the shape WeChat's EncodingAESKey has
                "wechat_aes_key": base64.b64encode(secrets.token_bytes(32)).decode()[:43],
                "wechat_app_id": "wxdev" + secrets.token_hex(6),
                "secret_key": secrets.token_urlsafe(32),
            }
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(stored, fh)
        update: dict[str, object] = {}
        if missing_wechat:
            update.update(
                wechat_token=stored["wechat_token"],
                wechat_aes_key=stored["wechat_aes_key"],
                wechat_app_id=self.wechat_app_id or stored["wechat_app_id"],
                dev_credentials=True,
            )
        if not self.secret_key:
            update["secret_key"] = stored["secret_key"]  # model_copy wraps it in SecretStr
        return self.model_copy(update=update)
