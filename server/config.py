"""Configuration read from the environment; one class per deployment kind."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("ALLIANCE_INSTANCE_DIR", PROJECT_ROOT / "instance"))


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def _env_limits(name: str) -> dict[str, str]:
    """``action=limits`` pairs separated by commas, e.g. ``identify:terminal=600/minute`` (server/ratelimit.py)."""
    pairs = [item.split("=", 1) for item in os.environ.get(name, "").split(",") if "=" in item]
    return {action.strip(): limits.strip() for action, limits in pairs}


def normalize_database_url(url: str) -> str:
    """Route plain postgres:// URLs to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    """Defaults shared by every environment; every value can be set from the environment."""

    SECRET_KEY = os.environ.get("SECRET_KEY", "")
    SQLALCHEMY_DATABASE_URI = normalize_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'alliance.db'}")
    )
    # no pre-ping round trip per request: server/database.py replaces connections the server closed at checkout
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": False, "pool_recycle": 1800}
    MAX_CONTENT_LENGTH = 64 * 1024

    # Key material. Each key may be given explicitly (base64, 32 bytes); in development a missing key
    # is derived from SECRET_KEY with HKDF under its own label, see server/security/keys.py.
    PII_ENCRYPTION_KEY = os.environ.get("PII_ENCRYPTION_KEY", "")
    PII_HASH_KEY = os.environ.get("PII_HASH_KEY", "")
    CARD_SIGNING_KEY = os.environ.get("CARD_SIGNING_KEY", "")
    CARD_MASTER_KEY = os.environ.get("CARD_MASTER_KEY", "")
    CARD_READ_KEY = os.environ.get("CARD_READ_KEY", "")
    BENEFIT_SECRET_KEY = os.environ.get("BENEFIT_SECRET_KEY", "")  # benefit codes and secrets (卡密), AES-GCM
    REQUIRE_EXPLICIT_KEYS = False

    # Initial alliance settings: copied into the database when the alliance is first created.
    ALLIANCE_NAME = os.environ.get("ALLIANCE_NAME", "幸福街商家联盟")
    POINT_VALUE_FEN = _env_int("POINT_VALUE_FEN", 1)
    MEMBER_CODE_PREFIX = os.environ.get("MEMBER_CODE_PREFIX", "88")
    CARD_NUMBER_PREFIX = os.environ.get("CARD_NUMBER_PREFIX", "8860")
    ALLIANCE_TIMEZONE = os.environ.get("ALLIANCE_TIMEZONE", "Asia/Shanghai")

    SMS_SENDER = os.environ.get("SMS_SENDER", "log")  # see server/notifications/sms.py SENDERS
    SMS_HTTP_URL = os.environ.get("SMS_HTTP_URL", "")  # the "http" sender: provider endpoint, key, signature
    SMS_HTTP_KEY = os.environ.get("SMS_HTTP_KEY", "")
    SMS_SIGN = os.environ.get("SMS_SIGN", "")
    SMS_HTTP_TIMEOUT_SECONDS = _env_int("SMS_HTTP_TIMEOUT_SECONDS", 10)
    WEBHOOK_TIMEOUT_SECONDS = _env_int("WEBHOOK_TIMEOUT_SECONDS", 10)  # per delivery attempt

    # Benefit stock alerts (server/services/benefit_alerts.py): texted to these phones (comma-separated),
    # the horizon of the scheduled demand, and when a supplier's failed codes raise an alert.
    BENEFIT_ALERT_PHONES = os.environ.get("BENEFIT_ALERT_PHONES", "")
    BENEFIT_DEMAND_HORIZON_DAYS = _env_int("BENEFIT_DEMAND_HORIZON_DAYS", 30)
    BENEFIT_FAILURE_WINDOW_DAYS = _env_int("BENEFIT_FAILURE_WINDOW_DAYS", 30)
    BENEFIT_FAILURE_THRESHOLD_BP = _env_int("BENEFIT_FAILURE_THRESHOLD_BP", 500)
    BENEFIT_FAILURE_MIN_ATTEMPTS = _env_int("BENEFIT_FAILURE_MIN_ATTEMPTS", 20)

    # Member pages (server/member): login codes, rate limits (shared storage when several workers run),
    # WeChat OAuth web login (optional; the phone flow works without it).
    LOGIN_CODE_TTL_SECONDS = _env_int("LOGIN_CODE_TTL_SECONDS", 300)
    LOGIN_CODE_MAX_ATTEMPTS = _env_int("LOGIN_CODE_MAX_ATTEMPTS", 5)
    MEMBER_SESSION_DAYS = _env_int("MEMBER_SESSION_DAYS", 180)
    # memory-swept:// is memory:// without a timer thread per hit (server/ratelimit.py); per process: with
    # several workers, use redis://
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory-swept://")
    RATELIMIT_HEADERS_ENABLED = True
    RATE_LIMITS = _env_limits("RATE_LIMITS")  # overrides of server/ratelimit.py LIMITS, by action
    WECHAT_APP_ID = os.environ.get("WECHAT_APP_ID", "")
    WECHAT_APP_SECRET = os.environ.get("WECHAT_APP_SECRET", "")
    WECHAT_API_BASE = os.environ.get("WECHAT_API_BASE", "https://api.weixin.qq.com")
    WECHAT_AUTHORIZE_URL = os.environ.get("WECHAT_AUTHORIZE_URL", "https://open.weixin.qq.com/connect/oauth2/authorize")

    # Settlement and jobs: a business day may be closed this long after it ended; JOBS_SCHEDULER=1 runs
    # every job in-process every JOBS_SCHEDULER_INTERVAL_SECONDS (off by default: use cron + `jobs run`).
    SETTLEMENT_GRACE_MINUTES = _env_int("SETTLEMENT_GRACE_MINUTES", 10)
    JOBS_SCHEDULER = os.environ.get("JOBS_SCHEDULER", "") in {"1", "true", "yes"}
    JOBS_SCHEDULER_INTERVAL_SECONDS = _env_int("JOBS_SCHEDULER_INTERVAL_SECONDS", 3600)

    # Console (server/console): failed sign-ins lock an account (or refuse an address) for a while; a console
    # session ends after this long idle or in total. The console may run offline on a LAN: Bootstrap's files
    # come from its package, not a CDN. SESSION_COOKIE_SECURE=1 when the console is served over HTTPS.
    CONSOLE_MAX_FAILED_LOGINS = _env_int("CONSOLE_MAX_FAILED_LOGINS", 5)
    CONSOLE_LOCKOUT_MINUTES = _env_int("CONSOLE_LOCKOUT_MINUTES", 15)
    CONSOLE_MAX_FAILED_LOGINS_PER_ADDRESS = _env_int("CONSOLE_MAX_FAILED_LOGINS_PER_ADDRESS", 20)
    CONSOLE_SESSION_HOURS = _env_int("CONSOLE_SESSION_HOURS", 8)
    CONSOLE_IDLE_MINUTES = _env_int("CONSOLE_IDLE_MINUTES", 60)
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")  # printed on posters; default: the console's address
    BOOTSTRAP_SERVE_LOCAL = True
    SESSION_COOKIE_SAMESITE = "Lax"  # Flask's default is None: no SameSite protection
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "").lower() in {"1", "true", "yes"}
    # behind reverse proxies (deploy/nginx/alliancecard.conf): how many of them set X-Forwarded-For/-Proto, so the
    # client's address (rate limits per address) and scheme are theirs (werkzeug's ProxyFix); 0: none trusted
    PROXY_FIX_HOPS = _env_int("PROXY_FIX_HOPS", 0)
    WTF_CSRF_TIME_LIMIT = None  # the CSRF token lives as long as the session

    IDENTIFICATION_TTL_SECONDS = _env_int("IDENTIFICATION_TTL_SECONDS", 300)
    # expired identifications are deleted by the purge-identifications job this long after they expired
    # (never sooner than an offline replay could still use one: the alliance's offline_max_age_hours)
    IDENTIFICATION_RETENTION_HOURS = _env_int("IDENTIFICATION_RETENTION_HOURS", 48)
    IDEMPOTENCY_WAIT_SECONDS = _env_int("IDEMPOTENCY_WAIT_SECONDS", 3)

    # Operations (docs/operations.md): a streaming replica for lag-tolerant reads (server/replica.py),
    # readiness (/readyz fails when the replica is further behind), who may read /metrics (networks, comma-
    # separated CIDRs, or a bearer token), and JSON log lines on stderr (LOG_FORMAT=json; "plain" leaves the
    # logging set-up alone, as development does: its SMS log shows one-time codes the JSON lines redact).
    DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
    SQLALCHEMY_REPLICA_ENGINE_OPTIONS: dict = {}  # default: SQLALCHEMY_ENGINE_OPTIONS
    REPLICA_MAX_LAG_SECONDS = _env_int("REPLICA_MAX_LAG_SECONDS", 30)
    METRICS_ALLOWED_NETWORKS = os.environ.get("METRICS_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")  # production: json

    API_TITLE = "AllianceCard API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/api/v1/docs/static/"
    API_SPEC_OPTIONS = {
        "info": {"description": "Merchant-alliance membership API: terminals, operators, members."},
        "components": {
            "securitySchemes": {
                "terminalToken": {"type": "http", "scheme": "bearer", "description": "Terminal token (tt_...)"},
                "personalToken": {"type": "http", "scheme": "bearer", "description": "Staff token (pt_...)"},
                "partnerSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Partner-Signature",
                    "description": "A partner's HMAC-SHA256 request signature (docs/benefits.md, Partners)",
                },
            }
        },
    }


class DevelopmentConfig(Config):
    """Local development on the embedded SQLite database."""

    DEBUG = False


class TestingConfig(Config):
    """Tests: the database URL comes from the test fixtures."""

    TESTING = True
    SECRET_KEY = "test-secret-key-not-for-production"


class ProductionConfig(Config):
    """Production: every key must be set explicitly."""

    REQUIRE_EXPLICIT_KEYS = True
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    """The configuration class named by ALLIANCE_ENV (default: development)."""
    return CONFIGS[os.environ.get("ALLIANCE_ENV", "development")]
