-- Receipts (docs/receipts.md). The ledger tables stay append-only and untouched: only indexes on them, plus
-- one side table the validators maintain. Index upkeep is part of sealing, so these are chosen to cost
-- little per stored event: measured by COPYing 30 000 simulated events, about 2.5 µs per event on average
-- for all of them, against about 17 µs for the row itself (2-core development machine).

-- A data field of a stored event, as text. The leaf bytes are the canonical (RFC 8785) JSON the sequencer
-- decoded before storing, so they always parse. convert_from is only STABLE because of encodings in
-- general; with the fixed 'UTF8' it is a pure function of its arguments, hence IMMUTABLE (index-able).
CREATE FUNCTION receipts_data_field(leaf bytea, field text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT (convert_from(leaf, 'UTF8')::jsonb -> 'data') ->> field $$;

-- A buyer's orders: a DemandPosted is published by its buyer (owner rule /data/buyer_id), so the publisher
-- column says whose order it is. No JSON to parse.
CREATE INDEX ledger_events_receipts_orders ON ledger_events (participant, leaf_index)
    WHERE type LIKE 'cn.taijiao.coal.demand.DemandPosted.v%';

-- Unloaded shipments of an order (one JSON parse per WagonsUnloaded, a few per cent of the traffic).
CREATE INDEX ledger_events_receipts_unloaded_order ON ledger_events (receipts_data_field(leaf, 'order_id'))
    WHERE type LIKE 'cn.taijiao.coal.transport.WagonsUnloaded.v%';

-- Truck deliveries: outbound weigh tickets, by the shipment and the order they name. Weigh tickets are most
-- of the traffic and nearly all inbound (coal trucked to a railhead), so the predicate looks for the bytes
-- "outbound" first (a memory search, no parse) and only those tickets pay for the JSON.
CREATE INDEX ledger_events_receipts_truck_shipment ON ledger_events (receipts_data_field(leaf, 'shipment_id'))
    WHERE type LIKE 'cn.taijiao.coal.transport.TruckWeighed.v%' AND position('"outbound"'::bytea IN leaf) > 0;
CREATE INDEX ledger_events_receipts_truck_order ON ledger_events (receipts_data_field(leaf, 'order_id'))
    WHERE type LIKE 'cn.taijiao.coal.transport.TruckWeighed.v%' AND position('"outbound"'::bytea IN leaf) > 0;

-- One DeliveryConfirmed / DeliveryDisputed per shipment, across every validator process. A validator claims
-- the shipment for the event it accepts (INSERT ... ON CONFLICT DO NOTHING) before sending it to the
-- accepted topic; another event id finding the claim taken is rejected (reason `rule`). The same event id
-- finds its own claim (a redelivery after a crash) and is accepted again. Checking the sealed ledger alone
-- would let two confirmations through when both are validated before the first is sealed. Not part of the
-- ledger and not trusted by anyone: it can be rebuilt from the sealed receipts.
CREATE TABLE receipt_claims (
    shipment_id  text        PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    participant  text        NOT NULL,
    type         text        NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT now()
);
