"""The validator's offset commits (services.validator.worker.Committer) against the real broker: only offsets
whose outcomes were acknowledged are committed, at most once per interval, and everything on stop."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics
from services.validator.worker import Committer, InFlight


async def test_offsets_are_committed_once_acked_at_most_once_per_interval_and_all_on_stop(settings: Settings) -> None:
    raw = Topics.from_settings(settings).raw
    tp = TopicPartition(raw, 0)
    producer = clients.producer(settings)
    group = settings.topic("commit-test")
    consumer = clients.consumer(settings, group_id=group)
    await producer.start()
    await consumer.start()
    try:
        for i in range(3):
            await producer.send_and_wait(raw, f"r{i}".encode(), partition=0)
        consumer.assign([tp])
        committer = Committer(interval_s=3600)
        ack: asyncio.Future[object] = asyncio.get_running_loop().create_future()

        # a batch whose outcome is not acknowledged yet is not committable
        settling = asyncio.create_task(committer.settle(InFlight([ack], {tp: 1})))
        await asyncio.sleep(0.05)
        assert not settling.done()
        await committer.commit(consumer)
        assert await consumer.committed(tp) is None
        ack.set_result(None)
        await settling

        await committer.commit(consumer)  # the first commit is due at once
        assert await consumer.committed(tp) == 1
        await committer.settle(InFlight([], {tp: 3}))
        await committer.commit(consumer)  # within the interval: held back
        assert await consumer.committed(tp) == 1
        await committer.commit(consumer, force=True)  # on stop
        assert await consumer.committed(tp) == 3
        assert committer.commits == 2

        # what the reading that started over must not commit, and partitions no longer assigned
        await committer.settle(InFlight([], {tp: 99}))
        committer.forget()
        await committer.commit(consumer, force=True)
        assert await consumer.committed(tp) == 3
        await committer.settle(InFlight([], {TopicPartition(raw, 1): 2}))  # not assigned to this consumer
        await committer.commit(consumer, force=True)
        assert await consumer.committed(TopicPartition(raw, 1)) is None
        assert committer.commits == 2
    finally:
        await consumer.stop()
        await producer.stop()
