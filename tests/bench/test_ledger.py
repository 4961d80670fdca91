"""bench.ledger.templated: the leaves a large bench ledger is built from."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from bench.events import Record, event_file
from bench.ledger import templated, templated_id

ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def records(tmp_path: Path, n: int = 200) -> list[Record]:
    return list(event_file(n, cache_dir=tmp_path).records(n))


def test_ids_are_unique_canonical_and_spread_over_the_id_space(tmp_path: Path) -> None:
    recs = records(tmp_path)
    leaves = [leaf for leaf, _, _ in templated(recs, 3 * len(recs))]
    ids = [json.loads(leaf)["id"] for leaf in leaves]
    assert ids == [templated_id(i) for i in range(len(leaves))]
    assert len(set(ids)) == len(ids) and all(ID.match(i) for i in ids)
    assert len({uuid.UUID(i).int >> 124 for i in ids}) == 16  # inserts land all over the event_id index
    assert [len(leaf) for leaf in leaves] == [len(r.leaf()) for r in recs] * 3  # same length: still canonical


def test_history_gives_each_past_pass_business_ids_of_its_own(tmp_path: Path) -> None:
    recs = records(tmp_path)
    n = len(recs)
    leaves = [json.loads(leaf) for leaf, _, _ in templated(recs, 2 * n + 10, history=True)]
    own = [json.loads(r.leaf()) for r in recs]
    tag = re.search(r"-([0-9A-F]{4})-", next(e["subject"] for e in own if e["subject"].startswith("SHP-")))
    assert tag is not None
    old = f"-{tag.group(1)}-"
    for i, e in enumerate(leaves):
        mine = own[i % n]
        if i < 2 * n:  # a past pass: none of the live run's ids, its own instead
            assert old not in json.dumps([e["subject"], e["data"]])
            assert e["subject"] == mine["subject"].replace(old, f"-Z{i // n:03X}-")
        else:  # the last pass continues the records' own subjects
            assert {**e, "id": mine["id"]} == mine
