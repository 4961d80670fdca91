-- What the views worker refused to fold, with the reason (services/views/checks.py, docs/operations.md).
-- One row per blocks-topic offset (re-reading the topic after a rebuild finds the same record again).
CREATE TABLE IF NOT EXISTS views_rejected_blocks (
    topic_offset bigint PRIMARY KEY,
    height bigint NOT NULL,              -- the height the record claims; -1 if it does not say
    reason text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now()
);

-- Events of genuine (signed, linked) blocks that the fold cannot take, e.g. a time beyond the calendar.
CREATE TABLE IF NOT EXISTS views_quarantined_events (
    leaf_index bigint PRIMARY KEY,
    height bigint NOT NULL,
    reason text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now()
);
