"""Dependencies shared by the routes (``Annotated`` aliases, as in the FastAPI full-stack template)."""

from __future__ import annotations

from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import Depends, HTTPException, Request

from services.config import Settings
from services.kafka.topics import Topics
from services.store.postgres import LedgerStore


def get_settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def get_store(request: Request) -> LedgerStore:
    store: LedgerStore | None = getattr(request.app.state, "store", None)
    if store is None:
        raise HTTPException(503, "the ledger database is not reachable", headers={"Retry-After": "5"})
    return store


def get_producer(request: Request) -> AIOKafkaProducer:
    producer: AIOKafkaProducer | None = getattr(request.app.state, "producer", None)
    if producer is None:
        raise HTTPException(503, "the broker is not reachable", headers={"Retry-After": "5"})
    return producer


def get_topics(request: Request) -> Topics:
    t: Topics = request.app.state.topics
    return t


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[LedgerStore, Depends(get_store)]
ProducerDep = Annotated[AIOKafkaProducer, Depends(get_producer)]
TopicsDep = Annotated[Topics, Depends(get_topics)]
