"""One Settings object for the whole process, read from the environment or the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_home() -> Path:
    """`./.lakestack`, or `~/.lakestack` when started from the home directory."""
    cwd = Path.cwd()
    if cwd == Path.home():
        return Path.home() / ".lakestack"
    return cwd / ".lakestack"


@dataclass
class Settings:
    home: Path = field(default_factory=default_home)
    host: str = "127.0.0.1"
    port: int = 4566
    region: str = "us-east-1"
    account_id: str = "000000000000"
    root_access_key_id: str | None = None
    root_secret_access_key: str | None = None
    # Seconds of clock skew tolerated in SigV4 (AWS: 15 minutes).
    max_clock_skew: int = 15 * 60
    # Kinesis records: "embedded" (segment files under <home>/streams) or "jetstream" (NATS).
    stream_engine: str = "embedded"
    nats_url: str = "nats://127.0.0.1:4222"
    # AWS's per-shard Kinesis throughput limits; turn off for bulk loads.
    kinesis_enforce_limits: bool = True
    # Bring your own TLS certificate (PEM files) instead of one from the home's local CA.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # What a new S3 bucket starts with. "2023" is AWS since April 2023: Object Ownership
    # BucketOwnerEnforced (ACLs disabled) and every Block Public Access setting on. "legacy" is
    # AWS before it (ObjectWriter, no Block Public Access), what older code and suites expect.
    # https://aws.amazon.com/about-aws/whats-new/2022/12/amazon-s3-automatically-enable-block-public-access-disable-access-control-lists-buckets-april-2023/
    s3_bucket_defaults: str = "2023"
    # S3 lifecycle rules (services/s3/lifecycle.py): the length of a "day" in seconds (scaled down
    # for tests), and seconds between passes over the rules (default: a 20th of a day, at most an hour).
    s3_lifecycle_day_seconds: float = 86400.0
    s3_lifecycle_interval_seconds: float | None = None

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        env = os.environ
        values: dict = {}
        if env.get("LAKESTACK_HOME"):
            values["home"] = Path(env["LAKESTACK_HOME"])
        if env.get("LAKESTACK_HOST"):
            values["host"] = env["LAKESTACK_HOST"]
        if env.get("LAKESTACK_PORT"):
            values["port"] = int(env["LAKESTACK_PORT"])
        if env.get("LAKESTACK_REGION"):
            values["region"] = env["LAKESTACK_REGION"]
        if env.get("LAKESTACK_STREAM_ENGINE"):
            values["stream_engine"] = env["LAKESTACK_STREAM_ENGINE"]
        if env.get("LAKESTACK_NATS_URL"):
            values["nats_url"] = env["LAKESTACK_NATS_URL"]
        if env.get("LAKESTACK_KINESIS_ENFORCE_LIMITS"):
            values["kinesis_enforce_limits"] = env["LAKESTACK_KINESIS_ENFORCE_LIMITS"].lower() not in ("0", "false", "no")
        if env.get("LAKESTACK_TLS_CERT"):
            values["tls_cert"] = Path(env["LAKESTACK_TLS_CERT"])
        if env.get("LAKESTACK_TLS_KEY"):
            values["tls_key"] = Path(env["LAKESTACK_TLS_KEY"])
        if env.get("LAKESTACK_S3_BUCKET_DEFAULTS"):
            values["s3_bucket_defaults"] = env["LAKESTACK_S3_BUCKET_DEFAULTS"]
        if env.get("LAKESTACK_S3_LIFECYCLE_DAY_SECONDS"):
            values["s3_lifecycle_day_seconds"] = float(env["LAKESTACK_S3_LIFECYCLE_DAY_SECONDS"])
        if env.get("LAKESTACK_S3_LIFECYCLE_INTERVAL_SECONDS"):
            values["s3_lifecycle_interval_seconds"] = float(env["LAKESTACK_S3_LIFECYCLE_INTERVAL_SECONDS"])
        values["root_access_key_id"] = env.get("LAKESTACK_ROOT_ACCESS_KEY_ID")
        values["root_secret_access_key"] = env.get("LAKESTACK_ROOT_SECRET_ACCESS_KEY")
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        if settings.s3_bucket_defaults not in ("2023", "legacy"):
            raise ValueError(f"LAKESTACK_S3_BUCKET_DEFAULTS must be 2023 or legacy, not {settings.s3_bucket_defaults!r}")
        if settings.s3_lifecycle_day_seconds <= 0:
            raise ValueError("LAKESTACK_S3_LIFECYCLE_DAY_SECONDS must be positive")
        settings.home = Path(settings.home).expanduser().resolve()
        return settings

    @property
    def endpoint_url(self) -> str:
        return f"http://{self._address}"

    @property
    def https_endpoint_url(self) -> str:
        """The same port over TLS (the certificate names localhost, 127.0.0.1 and ::1)."""
        return f"https://{self._address}"

    @property
    def _address(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"
