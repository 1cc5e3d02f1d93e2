"""The one typed settings object, read from the environment and `.env`.

Every process (gateway, action server, launcher, tools) builds its `Settings` once at start-up and passes it
down; nothing reads `os.environ` elsewhere. Names are prefixed `ASSISTANT_`, except the Telegram token,
which keeps the name people know.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
Language = Literal["az", "ru", "en"]
LANGUAGES: tuple[Language, ...] = ("az", "ru", "en")
TELEGRAM_API = "https://api.telegram.org"
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
DEMO_TOKEN = "123456789:local-emulator-demo-token"  # only ever valid against the bundled emulator


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # `ASSISTANT_ENGINE_API_TOKEN=` (an env file's blank line) means unset, never an empty secret.
        env_ignore_empty=True,
        # A refused value may be a secret: errors name the setting, never echo what it was set to.
        hide_input_in_errors=True,
    )

    # Telegram. Without a token the launcher runs the bundled Bot API emulator and a terminal chat.
    telegram_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "ASSISTANT_TELEGRAM_BOT_TOKEN")
    )
    telegram_api_url: str = TELEGRAM_API
    webhook_url: str | None = None  # public HTTPS URL; when set the gateway serves a webhook
    webhook_secret: SecretStr | None = None  # Telegram's rule: 1-256 of A-Z a-z 0-9 _ - (`openssl rand -hex 32`)
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443

    # Where the pieces are.
    data_dir: Path = PROJECT_ROOT / "var"
    models_dir: Path = PROJECT_ROOT / "models"
    rasa_venv: Path = PROJECT_ROOT / ".venv-rasa"
    database_url: str | None = None  # default: SQLite under data_dir
    # Scale-out: Redis shared by replicas (de-duplication, per-chat order, flood control, short-lived data)
    # and Rasa's lock store. Unset: all of that stays in each process, which is right for one replica.
    redis_url: str | None = None
    redis_namespace: str = "ma"
    # Replicas `python -m assistant run` starts behind HAProxy (assistant/haproxy.py); more than one needs
    # Redis and PostgreSQL, and gateway replicas need webhook mode.
    engine_replicas: int = Field(default=1, ge=1, le=8)
    gateway_replicas: int = Field(default=1, ge=1, le=8)
    # Where the gateway and the console find the engine; unset: http://127.0.0.1:<engine_port>, so changing the
    # port alone rewires every caller (the same for case_api_url and case_api_port).
    engine_url: str = ""
    engine_port: int = 5005
    # Where the services listen, and where the engine finds the action server. Loopback by default; in
    # containers (deploy/) they listen on 0.0.0.0 and find each other by name.
    engine_listen: str = "127.0.0.1"
    action_server_port: int = 5055
    action_server_listen: str = "127.0.0.1"
    action_server_host: str = "127.0.0.1"
    emulator_port: int = 8081
    console_host: str = "127.0.0.1"
    console_port: int = 8080
    # Where engines fetch the model the store's pointer names (console/model_server.py); unset:
    # http://127.0.0.1:<console_port>/engine/model. In containers: the console's service name.
    model_store_url: str = ""
    # A new model reaches a single engine blue/green (a second engine starts on it and takes over), memory
    # permitting; False: the engine loads it in place, and replies wait on the load (assistant/rollout.py).
    engine_blue_green: bool = True
    # `python -m assistant serve balancer` (containers): HAProxy in front of these engines and gateways
    # (host:port, comma-separated or a JSON list), with the rollout controller (assistant/front.py).
    engine_upstreams: Annotated[list[str], NoDecode] = []
    gateway_upstreams: Annotated[list[str], NoDecode] = []
    # Kubernetes: the follower beside each engine (assistant/follower.py) looks at the pointer this often,
    # and waits this long for the pod to leave the Service (readiness) before loading, and to come back after.
    follow_every_s: float = Field(default=5.0, gt=0)
    follow_engines: int = Field(default=2, ge=1)  # the engine Deployment's replicas: all switched, a rollout is done
    follow_drain_s: float = Field(default=10.0, ge=0)
    follower_port: int = 5006
    # HAProxy's own Prometheus metrics, behind the metrics token; unset: not served.
    balancer_metrics_port: int | None = None
    # Reverse proxies in front of the console (addresses or networks: a JSON list or comma-separated) whose
    # X-Forwarded-For and X-Forwarded-Proto it believes: login throttling then counts the client's address, and
    # HTTPS at the proxy turns on HSTS and Secure cookies. Empty or unset: the connection's own address and
    # scheme; unset on a console listening beyond loopback is an error in its log (`[]`: no proxy, on purpose).
    console_trusted_proxies: Annotated[list[str] | None, NoDecode] = None
    # The engine's HTTP API (model hot reload) needs this token; the launcher makes one when it is unset.
    engine_api_token: SecretStr | None = None
    # Hop secrets (core/hop_auth.py): every message from the gateway to the engine, and every call from
    # the engine to the action server, carries an HMAC made with them. Metrics endpoints want this bearer
    # token; the case API sandbox's switches (/_sandbox/...) want the admin token. `python -m assistant run`
    # makes each one for the run when unset; containers (several replicas) must all be given the same.
    engine_hop_secret: SecretStr | None = None
    actions_hop_secret: SecretStr | None = None
    metrics_token: SecretStr | None = None
    sandbox_admin_token: SecretStr | None = None
    secret_key: SecretStr | None = None  # keyed hashes of chat ids; made once under data_dir when unset
    # Encrypts transcripts, access tokens and chat ids at rest (32 bytes in base64: `openssl rand -base64 32`);
    # made once under data_dir when unset. Rotating (`python -m assistant rotate-data-key`): the new key
    # here, the old one in data_keys_previous (comma-separated) until `rotate-data-key` re-encrypted the data.
    data_key: SecretStr | None = None
    data_keys_previous: SecretStr | None = None

    # The migration service's case API (the bundled sandbox by default).
    case_api_url: str = ""  # unset: the bundled sandbox, http://127.0.0.1:<case_api_port>
    case_api_port: int = 8090
    case_api_token: SecretStr = SecretStr("sandbox-demo-token")  # the real service's token in production
    case_api_timeout_s: float = 5.0
    case_api_retries: int = 2
    status_poll_interval_s: float = 300.0  # how often subscribed applications are checked for changes

    # People behind the bot: forum supergroups where staff answer the chats handed over to them; one topic
    # per ticket. Without a support group the bot gives the call centre's contacts instead.
    staff_support_chat_id: int | None = None
    staff_officers_chat_id: int | None = None  # where escalated tickets go; the support group when unset
    staff_language: Language = "en"  # the bot's own words in the staff groups
    support_hours: str = "Mon-Fri 09:00-18:00"  # when people answer, in support_timezone
    support_timezone: str = "Asia/Baku"

    # Behaviour.
    default_language: Language = "az"
    max_message_chars: int = 1000  # longer messages get a polite "please be brief"
    engine_timeout_s: float = 15.0
    # Retraining after staff publish new ways to ask: a quick update fine-tunes the served model on the new
    # data for this fraction of the configured epochs (live in a few minutes instead of a whole training),
    # at most this many times in a row; then, and whenever the labels or the configuration change, it
    # trains from scratch. 0 turns quick updates off. "Retrain from scratch" in the console always does.
    finetune_epoch_fraction: float = Field(default=0.3, gt=0.0, le=1.0)
    finetunes_before_full: int = Field(default=4, ge=0)
    # Trained models the model store keeps (the newest, and always the one served): earlier ones to go back to.
    models_kept: int = Field(default=5, ge=2)
    # A training runs at this lower CPU priority (`nice`; 0: the same as the services). Free while the machine
    # is idle; beside 100 users it did not measurably shorten replies (benchmarks.latency --during-training).
    training_niceness: int = Field(default=10, ge=0, le=19)
    engine_retries: int = 1
    flood_messages: int = 10  # more messages than this from one chat within flood_window_s are not answered…
    flood_window_s: float = 10.0  # …but the chat is told once, politely, to slow down
    # The Overview's counts (analytics/counting.py) wait in each gateway's memory this long before they are
    # added to the database in one write: off the reply path, and one write per interval whatever the traffic.
    usage_flush_s: float = Field(default=5.0, gt=0.0)

    log_level: str = "INFO"

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_accepts_the_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram refuses setWebhook with any other secret_token, and the gateway would fail later and vaguely.
        if value is not None and not WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError(
                "Telegram accepts only 1-256 characters A-Z, a-z, 0-9, _ and -: make one with `openssl rand -hex 32`"
            )
        return value

    @field_validator("engine_upstreams", "gateway_upstreams", mode="before")
    @classmethod
    def _host_ports(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            value = (
                json.loads(text) if text.startswith("[") else [part.strip() for part in text.split(",") if part.strip()]
            )
        if isinstance(value, list | tuple):
            for entry in value:
                host, _, port = str(entry).rpartition(":")
                if not host or not port.isdigit():
                    raise ValueError(f"{entry!r} is not host:port (e.g. engine-1:5005)")
        return value

    @field_validator("console_trusted_proxies", mode="before")
    @classmethod
    def _proxies_are_networks(cls, value: object) -> object:
        # Checked here, with the setting's name, rather than failing with a traceback when the console starts.
        if isinstance(value, str):
            text = value.strip()
            try:
                value = json.loads(text) if text.startswith("[") else [part for part in text.split(",") if part.strip()]
            except json.JSONDecodeError as error:
                raise ValueError(f"not a JSON list ({error})") from None
        if isinstance(value, list | tuple):
            for entry in value:
                try:
                    ipaddress.ip_network(str(entry).strip(), strict=False)
                except ValueError:
                    raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.244.0.0/16)") from None
            return [str(entry).strip() for entry in value]
        return value

    @model_validator(mode="after")
    def _urls_follow_ports(self) -> Settings:
        if not self.engine_url:
            self.engine_url = f"http://127.0.0.1:{self.engine_port}"
        if not self.case_api_url:
            self.case_api_url = f"http://127.0.0.1:{self.case_api_port}"
        if not self.model_store_url:
            self.model_store_url = f"http://127.0.0.1:{self.console_port}/engine/model"
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'assistant.db'}"

    @property
    def action_server_url(self) -> str:
        return f"http://{self.action_server_host}:{self.action_server_port}/webhook"

    @property
    def action_server_health_url(self) -> str:
        return f"http://{self.action_server_host}:{self.action_server_port}/health"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def bot_token(self) -> str:
        if self.telegram_bot_token is not None:
            return self.telegram_bot_token.get_secret_value()
        return DEMO_TOKEN

    @property
    def bot_api_url(self) -> str:
        """Without a real token nothing may go to Telegram: the local emulator is the API."""
        if self.demo_mode and self.telegram_api_url == TELEGRAM_API:
            return self.emulator_url
        return self.telegram_api_url.rstrip("/")

    @property
    def demo_mode(self) -> bool:
        """True when no real Telegram token is configured: the local emulator stands in for Telegram."""
        return self.telegram_bot_token is None
