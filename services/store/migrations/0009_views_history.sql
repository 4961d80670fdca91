-- Dispatcher views, history (services/views): per mine, product and business day, the change of the stock on
-- hand that day (loadings drew it down, stock reports and assays set it). The stock at the end of day D is the
-- sum of the changes up to D: the daily stock series and "a past day as it was" (docs/dispatchers.md).
CREATE TABLE views_mine_day (
    mine_id text NOT NULL, product text NOT NULL, day date NOT NULL, height bigint NOT NULL, figures jsonb NOT NULL,
    PRIMARY KEY (mine_id, product, day)
);
CREATE INDEX views_mine_day_day ON views_mine_day (day);
CREATE INDEX views_mine_day_height ON views_mine_day (height);
