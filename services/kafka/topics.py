"""The one topic definition (``services/kafka/topics.yaml``) and topic creation.

Topics are created with their final partition counts: tansu cannot add partitions later, and the accepted
topic must stay at one partition because it is the ledger's total order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.config import Settings
from services.kafka.clients import security_kwargs

log = logging.getLogger(__name__)

TOPICS_FILE: Traversable = resources.files("services.kafka").joinpath("topics.yaml")  # package data: in the wheel


@dataclass(frozen=True)
class TopicSpec:
    role: str  # raw | accepted | rejected | blocks
    name: str
    partitions: int
    description: str
    configs: dict[str, str]


def load_topics(path: Traversable = TOPICS_FILE) -> dict[str, TopicSpec]:
    """Logical role -> topic spec, straight from the YAML file."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        role: TopicSpec(
            role=role,
            name=str(t["name"]),
            partitions=int(t["partitions"]),
            description=str(t.get("description", "")),
            configs={str(k): str(v) for k, v in (t.get("configs") or {}).items()},
        )
        for role, t in doc["topics"].items()
    }


@dataclass(frozen=True)
class Topics:
    """Broker-side topic names for one deployment (prefix applied)."""

    raw: str
    accepted: str
    rejected: str
    blocks: str
    checkpoints: str = ""  # cosigned checkpoints (coalchain cosigner)

    @classmethod
    def from_settings(cls, settings: Settings) -> Topics:
        specs = load_topics()
        return cls(**{role: settings.topic(spec.name) for role, spec in specs.items()})


def topic_configs(settings: Settings, spec: TopicSpec) -> dict[str, str]:
    """The topic's own configs, plus ``min.insync.replicas`` when the deployment sets one (three brokers: 2)."""
    configs = dict(spec.configs)
    if settings.kafka_min_insync_replicas:
        configs["min.insync.replicas"] = str(settings.kafka_min_insync_replicas)
    return configs


async def ensure_topics(settings: Settings) -> list[str]:
    """Create every topic that does not exist yet; return the names created."""
    specs = load_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, **security_kwargs(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(settings.topic(s.name), s.partitions, settings.kafka_replication_factor,
                     topic_configs=topic_configs(settings, s) or None)
            for s in specs.values()
            if settings.topic(s.name) not in existing
        ]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                log.info("topics created concurrently by another process")
        for t in new:
            log.info("created topic %s (%s partitions)", t.name, t.num_partitions)
        return [t.name for t in new]
    finally:
        await admin.close()
