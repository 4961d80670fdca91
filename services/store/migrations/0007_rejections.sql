-- Rejected events, stored from the rejected topic (services/api/rejections.py) so that
-- GET /v1/events/{id} can answer "rejected, why" and a publisher can list its own rejections.
-- One row per record of the rejected topic: (rejected_partition, rejected_offset) is its position, so a
-- consumer that restarts re-reads from max(offset)+1 per partition and a duplicate insert does nothing.
-- event_id, participant and type are what the rejected bytes CLAIM (they may be unsigned or forged): they
-- are for finding a rejection, never a statement of who sent it.
CREATE TABLE event_rejections (
    id bigserial UNIQUE NOT NULL,                -- arrival order here, for feeds
    rejected_partition integer NOT NULL,
    rejected_offset bigint NOT NULL,
    event_id uuid,                               -- NULL when the bytes name no UUID id
    participant text,                            -- from source "/participants/<id>", when present
    type text,
    reason text NOT NULL,                        -- a reason code (docs/events.md)
    detail jsonb NOT NULL,                       -- {"reason", "detail", "errors": [{"path","rule","message"}]}
    stage text NOT NULL,                         -- which process rejected it (validator, ...)
    raw_partition integer,
    raw_offset bigint,
    sigkeyid text,
    signature text,
    envelope_sha256 bytea,                       -- SHA-256 of the JCS bytes of the rejected envelope (when it
                                                 -- is one): a publisher matches the rejection to its own bytes
    rejected_at timestamptz NOT NULL,            -- the rejected topic's record timestamp
    PRIMARY KEY (rejected_partition, rejected_offset)
);
CREATE INDEX event_rejections_event ON event_rejections (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX event_rejections_participant ON event_rejections (participant, id) WHERE participant IS NOT NULL;
