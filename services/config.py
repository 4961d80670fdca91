"""Configuration, read once from the environment (prefix ``COALCHAIN_``) and passed down.

Nothing here is read at import time: ``Settings()`` is built in ``main()`` (CLI) or in an app factory.
Every field is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All knobs of every CoalChain process. Units are in the names."""

    model_config = SettingsConfigDict(env_prefix="COALCHAIN_", extra="ignore")

    environment: str = Field("development", description="development | production")
    home: Path = Field(Path(".coalchain"), description="Project-local state: embedded PostgreSQL data, keys, logs")

    # PostgreSQL. Empty -> embedded server (pgserver) with data under ``home``/pgdata.
    database_url: str = Field("", validation_alias="DATABASE_URL")
    # Least-privilege roles (docs/operations.md "Database roles"): the migrating role (DATABASE_URL) owns the
    # tables; each service connects as its own role, DATABASE_URL with the user replaced by
    # coalchain_<kind>_login and the password by db_password_<kind> (none: trust, a client certificate or
    # ~/.pgpass). `coalchain migrate` sets each role's password given here. False: everything uses DATABASE_URL.
    db_roles: bool = True
    db_password_sequencer: str = ""
    db_password_replica: str = ""
    db_password_validator: str = ""
    db_password_api: str = ""
    db_password_views: str = ""
    db_password_witness: str = ""
    db_password_reader: str = ""

    # Kafka. Empty -> embedded tansu broker on 127.0.0.1:kafka_port.
    kafka_bootstrap_servers: str = ""
    kafka_port: int = 9092
    kafka_acks: str = "all"
    kafka_enable_idempotence: bool = False  # tansu has no idempotent producer; production sets true
    kafka_topic_prefix: str = ""  # tests use a unique prefix so runs never share topics
    kafka_request_timeout_ms: int = 30_000
    # tansu answers a fetch only when this wait is over, even with data ready; Kafka answers as soon as
    # fetch_min_bytes are there. Small = low latency on both, at the cost of more idle fetch requests.
    kafka_fetch_max_wait_ms: int = 20
    # producers (gateway, tools) wait this long to fill a request: fewer, larger produce requests (on tansu
    # each request has a high fixed cost); the validators and the sequencer send one record at a time: no linger
    kafka_linger_ms: int = Field(10, ge=0)
    # Production Kafka (docs/operations.md): topic replication, and SASL/SCRAM + TLS for every client
    kafka_replication_factor: int = 1  # three brokers: 3
    kafka_min_insync_replicas: int = 0  # 0: the broker's default; three brokers: 2 (with acks=all)
    kafka_security_protocol: str = Field("PLAINTEXT", pattern=r"^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$")
    kafka_sasl_mechanism: str = Field("SCRAM-SHA-512", pattern=r"^(PLAIN|SCRAM-SHA-256|SCRAM-SHA-512)$")
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    kafka_ssl_cafile: Path | None = None  # CA bundle that signed the brokers' certificates
    kafka_ssl_certfile: Path | None = None  # client certificate (mutual TLS), optional
    kafka_ssl_keyfile: Path | None = None

    # Ledger
    ledger_id: str = "taijiao"
    sequencer_key_file: Path | None = None  # default: home/keys/sequencer.key (created in development)
    genesis_file: Path | None = None  # default: home/genesis.json
    batch_timeout_ms: int = 200
    max_events_per_block: int = 2000
    preferred_max_bytes: int = 2 * 1024 * 1024
    absolute_max_bytes: int = 10 * 1024 * 1024
    max_event_bytes: int = 256 * 1024
    gateway_publish_timeout_s: float = 1.5  # POST /v1/events waits this long for the broker's ack, then 503
    gateway_max_in_flight: int = 256  # POST /v1/events in progress at once; beyond: 503 + Retry-After
    # POST /v1/events is shed (503 + Retry-After) while the API's event loop runs this late (requests are
    # waiting unread in their sockets), at least 8 are in progress and the loop has work; 0: off
    gateway_max_loop_lag_ms: int = 50

    # Validator -> sequencer hop (docs/operations.md "Sealing hop"): validators sign one verdict record per
    # fetched batch with this key; the sequencer seals only verdicts signed by a key of genesis "validators"
    validator_key_file: Path | None = None  # default: home/keys/validator.key (created in development)
    verdict_max_bytes: int = 900_000  # one verdict record stays below Kafka's default 1 MB message limit
    offset_gap_max_retries: int = 20  # consumers (services.kafka.offsets): re-reads of a missing offset before going on
    # validators reject an event whose time is this far ahead of / behind their clock (time-out-of-range)
    event_time_max_future_s: int = 600
    event_time_max_past_s: int = 45 * 86_400

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = 1  # API worker processes sharing the port (coalchain api --workers)
    api_session_key: str = ""  # HMAC key of sign-in challenges and sessions; empty: random at each start
    api_limit_concurrency: int = 1000  # per worker: connections + requests beyond which uvicorn answers 503
    api_backlog: int = 2048  # connections the kernel queues before the API accepts them
    dispatcher_tokens: str = "dev-dispatcher-token"  # comma separated bearer tokens for /v1/views/*
    rejections_recorder: bool = True  # the API stores the rejected topic for GET /v1/events/{id}, /v1/rejections

    # Receipts: loaded vs unloaded net weight differences beyond this are marked in bundles (two decimals, %)
    receipt_weight_tolerance_pct: str = Field("1.00", pattern=r"^(?:[1-9]?[0-9]\.[0-9]{2}|100\.00)$")

    # Views (faust)
    views_web_enabled: bool = False
    views_web_host: str = "127.0.0.1"
    views_web_port: int = 6066

    # Witnesses (coalchain cosigner): the witnesses file lists {"quorum": k, "witnesses": [{"url", "vkey"}]};
    # default home/witnesses.json. A new checkpoint is sent to them at most once per interval.
    witnesses_file: Path | None = None
    cosign_interval_ms: int = 1000
    # Readiness (/healthz, coalchain status; services/pipeline_health.py): red when verdicts wait and no block
    # was committed for this long (sealing stalled), or raw events wait this long for the validators' group
    # and no verdict was written meanwhile (validation stalled)
    health_sealing_stall_s: float = Field(60.0, gt=0)
    health_validation_stall_s: float = Field(60.0, gt=0)
    # Operations: metrics and logs (docs/operations.md "Monitor")
    metrics_port: int = 0  # 0: no metrics listener; else each non-API process serves /metrics here
    metrics_host: str = "127.0.0.1"
    log_format: str = Field("text", pattern=r"^(text|json)$")
    # Benchmarks (bench seal-latency --stages): the validators and the sequencer append the time.monotonic()
    # of each stage an event passes to <dir>/<role>-<pid>.jsonl. Empty: off
    stage_trace_dir: Path | None = None

    def is_development(self) -> bool:
        return self.environment == "development"

    def with_embedded_defaults(self) -> Settings:
        """Fill an empty broker or database address with where `coalchain up` runs its embedded ones, so
        ``coalchain status``/``verify``/... work beside a running ``coalchain up`` without any setting."""
        update: dict[str, str] = {}
        if not self.kafka_bootstrap_servers:
            update["kafka_bootstrap_servers"] = f"127.0.0.1:{self.kafka_port}"
        if not self.database_url:
            update["database_url"] = f"postgresql://postgres:@/postgres?host={self.home.resolve() / 'pgdata'}"
        return self.model_copy(update=update) if update else self

    def topic(self, name: str) -> str:
        """The broker-side name of a logical topic name (adds the test prefix, if any)."""
        return f"{self.kafka_topic_prefix}{name}"

