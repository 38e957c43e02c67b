"""Settings built once from the environment; every problem is reported at once."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEV_SANDBOX_SECRET = "dev-sandbox-secret"
DEV_SECRET_KEY = "dev-insecure-secret-key"
SMS_PROVIDERS = ("sandbox", "africastalking")
SANDBOX_AUTO = ("approve", "reject", "off")
# The one value of GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION that lets production run the sandbox
# payment provider (a mutual's payment_provider, an automatic decision): it says what it costs.
SANDBOX_OPT_IN = "I-understand-no-money-moves"
MIN_SECRET_LENGTH = 32
# Secrets published in the code, README, deploy/ and test examples: never valid in production.
KNOWN_DEV_SECRETS = frozenset(
    {DEV_SECRET_KEY, DEV_SANDBOX_SECRET, "CHANGE-ME", "change-me", "changeme", "secret", "token"}
)
# The settings an operator chooses (not issued by a provider): each must be long and unpublished.
OPERATOR_SECRETS = ("GATEWAY_SECRET_KEY", "GATEWAY_USSD_TOKEN", "GATEWAY_SANDBOX_SECRET")
MAX_TRUSTED_PROXIES = 5


class SettingsError(ValueError):
    """Raised with every configuration problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"- {p}" for p in problems))


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    var_dir: Path = field(default_factory=lambda: Path("var"))
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = DEV_SECRET_KEY
    ussd_token: str = ""
    allowed_ips: tuple[str, ...] = ()
    # Reverse proxies in front of the app whose X-Forwarded-For is believed (deploy/nginx.conf:
    # 1). 0: clients connect directly and X-Forwarded-For is ignored, so it cannot be spoofed.
    trusted_proxies: int = 0
    sms_provider: str = "sandbox"
    at_username: str = ""
    at_api_key: str = ""
    at_sender_id: str = ""
    sandbox_secret: str = DEV_SANDBOX_SECRET
    sandbox_auto: str = "approve"
    allow_sandbox_in_production: bool = False  # GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION opt-in
    screen_limit: int = 160
    cinetpay_api_key: str = ""
    cinetpay_secret_key: str = ""
    mtnmomo_subscription_key: str = ""
    mtnmomo_api_user: str = ""
    mtnmomo_api_key: str = ""
    mtnmomo_target_environment: str = "sandbox"
    cinetpay_base_url: str = "https://api-checkout.cinetpay.com"
    mtnmomo_base_url: str = "https://sandbox.momodeveloper.mtn.com"
    public_url: str = "http://127.0.0.1:8000"  # base of the callback URLs given to providers
    sms_rate_per_second: int = 50  # token bucket toward the SMS provider
    sms_batch_size: int = 100  # recipients per provider request for identical texts
    db_connect_timeout_s: int = 5  # PostgreSQL connect (libpq counts whole seconds)
    redis_connect_timeout_s: float = 2.0
    redis_timeout_s: float = 5.0  # any one Redis command's answer
    # A `gateway worker` exits (status 75, restarted by its supervisor) after the job that
    # takes its resident memory past this many MB, or after this many jobs; 0: no limit.
    worker_max_rss_mb: int = 1024
    worker_max_jobs: int = 0

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def embedded_database(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    @property
    def redis_db_path(self) -> Path:
        """File of the embedded Redis server, shared by every process of this directory."""
        return self.var_dir / "redis.db"

    @property
    def exports_dir(self) -> Path:
        """Where CSV exports are written (GATEWAY_VAR_DIR/exports); files expire with their
        link (gateway.console.exports)."""
        return self.var_dir / "exports"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        problems: list[str] = []
        get = env.get
        mode = get("GATEWAY_ENV", "development").strip() or "development"
        if mode not in ("development", "production", "test"):
            problems.append(f"GATEWAY_ENV must be development, production or test, not {mode!r}")
        var_dir = Path(get("GATEWAY_VAR_DIR", "var"))
        database_url = get("DATABASE_URL", "").strip()
        if not database_url:
            database_url = f"sqlite:///{(var_dir / 'gateway.db').resolve()}"
        elif database_url.startswith("postgres://"):
            database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
        elif database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
        redis_url = get("REDIS_URL", "").strip()
        sms_provider = get("GATEWAY_SMS_PROVIDER", "sandbox").strip() or "sandbox"
        if sms_provider not in SMS_PROVIDERS:
            problems.append(f"GATEWAY_SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)}")
        # Production decides no payment by itself unless told to (and opted in, see below).
        auto_default = "off" if mode == "production" else "approve"
        sandbox_auto = get("GATEWAY_SANDBOX_AUTO", auto_default).strip() or auto_default
        if sandbox_auto not in SANDBOX_AUTO:
            problems.append(f"GATEWAY_SANDBOX_AUTO must be one of {', '.join(SANDBOX_AUTO)}")
        screen_limit = _int(get("GATEWAY_SCREEN_LIMIT", "160"), "GATEWAY_SCREEN_LIMIT", problems)
        proxies = _trusted_proxies(get("GATEWAY_TRUSTED_PROXIES", ""), problems)
        if screen_limit is not None and not 60 <= screen_limit <= 182:
            problems.append("GATEWAY_SCREEN_LIMIT must be between 60 and 182 characters")
        settings = cls(
            env=mode,
            var_dir=var_dir,
            database_url=database_url,
            redis_url=redis_url,
            secret_key=get("GATEWAY_SECRET_KEY", "") or DEV_SECRET_KEY,
            ussd_token=get("GATEWAY_USSD_TOKEN", ""),
            allowed_ips=tuple(
                ip.strip() for ip in get("GATEWAY_ALLOWED_IPS", "").split(",") if ip.strip()
            ),
            trusted_proxies=proxies,
            sms_provider=sms_provider,
            at_username=get("AT_USERNAME", ""),
            at_api_key=get("AT_API_KEY", ""),
            at_sender_id=get("AT_SENDER_ID", ""),
            sandbox_secret=get("GATEWAY_SANDBOX_SECRET", "") or DEV_SANDBOX_SECRET,
            sandbox_auto=sandbox_auto,
            allow_sandbox_in_production=(
                get("GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION", "").strip() == SANDBOX_OPT_IN
            ),
            screen_limit=screen_limit or 160,
            cinetpay_api_key=get("CINETPAY_API_KEY", ""),
            cinetpay_secret_key=get("CINETPAY_SECRET_KEY", ""),
            mtnmomo_subscription_key=get("MTNMOMO_SUBSCRIPTION_KEY", ""),
            mtnmomo_api_user=get("MTNMOMO_API_USER", ""),
            mtnmomo_api_key=get("MTNMOMO_API_KEY", ""),
            mtnmomo_target_environment=get("MTNMOMO_TARGET_ENVIRONMENT", "") or "sandbox",
            cinetpay_base_url=_url(get, "CINETPAY_BASE_URL", Settings.cinetpay_base_url, problems),
            mtnmomo_base_url=_url(get, "MTNMOMO_BASE_URL", Settings.mtnmomo_base_url, problems),
            public_url=_url(get, "GATEWAY_PUBLIC_URL", Settings.public_url, problems),
            sms_rate_per_second=_positive(get, "GATEWAY_SMS_RATE", 50, problems),
            sms_batch_size=_positive(get, "GATEWAY_SMS_BATCH", 100, problems),
            db_connect_timeout_s=_positive(get, "GATEWAY_DB_CONNECT_TIMEOUT", 5, problems),
            redis_connect_timeout_s=_seconds(get, "GATEWAY_REDIS_CONNECT_TIMEOUT", 2.0, problems),
            redis_timeout_s=_seconds(get, "GATEWAY_REDIS_TIMEOUT", 5.0, problems),
            worker_max_rss_mb=_non_negative(get, "GATEWAY_WORKER_MAX_RSS_MB", 1024, problems),
            worker_max_jobs=_non_negative(get, "GATEWAY_WORKER_MAX_JOBS", 0, problems),
        )
        if settings.production:
            problems.extend(_production_problems(settings, env))
        if problems:
            raise SettingsError(problems)
        return settings


def _int(raw: str, name: str, problems: list[str]) -> int | None:
    try:
        return int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number, not {raw!r}")
        return None


def _trusted_proxies(raw: str, problems: list[str]) -> int:
    """How many reverse proxies' X-Forwarded-For to believe: 0 (default) to a few."""
    value = _int(raw.strip() or "0", "GATEWAY_TRUSTED_PROXIES", problems)
    if value is not None and not 0 <= value <= MAX_TRUSTED_PROXIES:
        problems.append(f"GATEWAY_TRUSTED_PROXIES must be 0 to {MAX_TRUSTED_PROXIES}, not {value}")
        return 0
    return value or 0


def _url(get: Callable[..., str], name: str, default: str, problems: list[str]) -> str:
    raw = (get(name, "") or default).strip().rstrip("/")
    if not raw.startswith(("http://", "https://")):
        problems.append(f"{name} must be an http:// or https:// URL, not {raw!r}")
    return raw


def _positive(get: Callable[..., str], name: str, default: int, problems: list[str]) -> int:
    value = _int(get(name, "") or str(default), name, problems)
    if value is not None and value <= 0:
        problems.append(f"{name} must be a positive whole number, not {value}")
    return value if value and value > 0 else default


def _non_negative(get: Callable[..., str], name: str, default: int, problems: list[str]) -> int:
    """A whole number, 0 meaning "no limit"."""
    value = _int(get(name, "") or str(default), name, problems)
    if value is not None and value < 0:
        problems.append(f"{name} must be 0 (no limit) or a positive whole number, not {value}")
    return value if value is not None and value >= 0 else default


def _seconds(get: Callable[..., str], name: str, default: float, problems: list[str]) -> float:
    """A positive number of seconds, fractions allowed (Redis timeouts)."""
    raw = get(name, "") or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        problems.append(f"{name} must be a positive number of seconds, not {raw!r}")
        return default
    return value


def _production_problems(s: Settings, env: Mapping[str, str]) -> list[str]:
    problems = []
    if not env.get("DATABASE_URL") or s.embedded_database:
        problems.append("DATABASE_URL must point at PostgreSQL in production (no embedded SQLite)")
    if s.embedded_redis:
        problems.append("REDIS_URL must be set in production (no embedded Redis)")
    if not env.get("GATEWAY_SECRET_KEY"):
        problems.append("GATEWAY_SECRET_KEY is required in production")
    if not s.ussd_token:
        problems.append("GATEWAY_USSD_TOKEN is required in production")
    if s.sms_provider == "sandbox":
        problems.append("GATEWAY_SMS_PROVIDER must be a real provider in production, not sandbox")
    if s.sms_provider == "africastalking" and not (s.at_username and s.at_api_key):
        problems.append("AT_USERNAME and AT_API_KEY are required for the africastalking provider")
    if not env.get("GATEWAY_SANDBOX_SECRET"):
        problems.append("GATEWAY_SANDBOX_SECRET must be set in production (no development default)")
    problems.extend(_secret_problems(env))
    if s.sandbox_auto != "off" and not s.allow_sandbox_in_production:
        problems.append(
            f"GATEWAY_SANDBOX_AUTO={s.sandbox_auto} is refused in production: the sandbox would "
            "credit payments no provider collected (set it to off, or opt in with "
            f"GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION={SANDBOX_OPT_IN})"
        )
    opt_in = env.get("GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION", "").strip()
    if opt_in and opt_in != SANDBOX_OPT_IN:
        problems.append(f"GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION must be {SANDBOX_OPT_IN} or unset")
    return problems


def _secret_problems(env: Mapping[str, str]) -> list[str]:
    """Each secret the operator chooses is neither published nor short (issue 15)."""
    problems = []
    for name in OPERATOR_SECRETS:
        value = env.get(name, "")
        if not value:
            continue  # reported as missing above
        if value.strip() in KNOWN_DEV_SECRETS:
            problems.append(f"{name} is a published development value: generate one")
        elif len(value) < MIN_SECRET_LENGTH:
            problems.append(
                f"{name} is {len(value)} characters long: production needs at least "
                f"{MIN_SECRET_LENGTH} (`openssl rand -hex 32`)"
            )
    return problems


def sandbox_allowed(settings: Settings) -> bool:
    """Whether the sandbox payment provider may serve a mutual under these settings."""
    return not settings.production or settings.allow_sandbox_in_production
