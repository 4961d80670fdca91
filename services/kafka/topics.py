"""The one topic definition (``infra/topics.yaml``) and topic creation.

Topics are created with their final partition counts: tansu cannot add partitions later, and the accepted
topic must stay at one partition because it is the ledger's total order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.config import Settings

log = logging.getLogger(__name__)

TOPICS_FILE = Path(__file__).resolve().parents[2] / "infra" / "topics.yaml"


@dataclass(frozen=True)
class TopicSpec:
    role: str  # raw | accepted | rejected | blocks
    name: str
    partitions: int
    description: str
    configs: dict[str, str]


def load_topics(path: Path = TOPICS_FILE) -> dict[str, TopicSpec]:
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


async def ensure_topics(settings: Settings) -> list[str]:
    """Create every topic that does not exist yet; return the names created."""
    specs = load_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(settings.topic(s.name), s.partitions, 1, topic_configs=s.configs or None)
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
