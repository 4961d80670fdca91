-- Dispatcher views (services/views): derived from sealed blocks, rebuilt from block 0 at will. NOT ledger
-- tables: the views worker updates them in place, one transaction per block, guarded by views_progress.
-- Every row carries the height of the block that last changed it; views_progress.height is the block the
-- whole set reflects. Figures and their sources: docs/dispatchers.md.

CREATE TABLE views_progress (
    id              smallint    PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    height          bigint      NOT NULL DEFAULT -1,   -- last block folded (-1: none)
    header_hash     text,                               -- hex hash of that block's header
    latest_day      date,                               -- latest business day (CST) among folded events
    blocks_applied  bigint      NOT NULL DEFAULT 0,
    events_applied  bigint      NOT NULL DEFAULT 0,
    events_skipped  bigint      NOT NULL DEFAULT 0,     -- sealed events that are not view events
    updated_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO views_progress (id) VALUES (1);

-- What the fold remembers between blocks (orders, requests, shipments, trains, sections, lots, offers).
CREATE TABLE views_entities (
    kind    text   NOT NULL,
    key     text   NOT NULL,
    height  bigint NOT NULL,
    data    jsonb  NOT NULL,
    PRIMARY KEY (kind, key)
);

CREATE TABLE views_station_day (
    station text NOT NULL, day date NOT NULL, height bigint NOT NULL, figures jsonb NOT NULL,
    PRIMARY KEY (station, day)
);
CREATE INDEX views_station_day_day ON views_station_day (day);
CREATE INDEX views_station_day_height ON views_station_day (height);

CREATE TABLE views_mine_product (
    mine_id text NOT NULL, product text NOT NULL, height bigint NOT NULL, figures jsonb NOT NULL,
    PRIMARY KEY (mine_id, product)
);
CREATE INDEX views_mine_product_height ON views_mine_product (height);

CREATE TABLE views_lots (
    lot_id text PRIMARY KEY, height bigint NOT NULL, figures jsonb NOT NULL
);
CREATE INDEX views_lots_height ON views_lots (height);
CREATE INDEX views_lots_flagged ON views_lots (((figures->>'flagged')::boolean)) WHERE (figures->>'flagged')::boolean;

CREATE TABLE views_orders (
    order_id text PRIMARY KEY, height bigint NOT NULL, figures jsonb NOT NULL
);
CREATE INDEX views_orders_height ON views_orders (height);
CREATE INDEX views_orders_status ON views_orders ((figures->>'status'));

CREATE TABLE views_gaps (
    destination text NOT NULL, product text NOT NULL, day date NOT NULL, height bigint NOT NULL,
    figures jsonb NOT NULL,
    PRIMARY KEY (destination, product, day)
);
CREATE INDEX views_gaps_day ON views_gaps (day);
CREATE INDEX views_gaps_height ON views_gaps (height);

CREATE TABLE views_trains (
    train_id text PRIMARY KEY, height bigint NOT NULL, figures jsonb NOT NULL
);
CREATE INDEX views_trains_height ON views_trains (height);
CREATE INDEX views_trains_in_transit ON views_trains (height) WHERE figures->>'status' = 'in_transit';

CREATE TABLE views_disputes (
    shipment_id text PRIMARY KEY, height bigint NOT NULL, figures jsonb NOT NULL
);
CREATE INDEX views_disputes_height ON views_disputes (height);
