"""The dispatcher views: sealed blocks folded into per-station, per-mine, per-order and per-destination figures.

Layers, one idea per module:

* :mod:`~services.views.model` — the views, their keys and figures; the business day of an event.
* :mod:`~services.views.entities` — what the fold remembers between events (orders, shipments, trains …).
* :mod:`~services.views.contrib` — what each entity contributes to the view rows (a pure function of it).
* :mod:`~services.views.fold` — pure: a block's validated events + the entities they touch -> a delta.
* :mod:`~services.views.rows` — pure: a delta applied to view rows (sums, attributes, derived figures).
* :mod:`~services.views.postgres` — the views tables: entities, rows and progress, one transaction per block.
* :mod:`~services.views.worker` — one block in, one transaction out; idempotent by height.
* :mod:`~services.views.app` — the faust-streaming app (``coalchain views``) feeding the worker.
* :mod:`~services.views.queries`, :mod:`~services.views.feed`, :mod:`~services.views.status` — the read
  side used by the API: queries, the live change feed (LISTEN/NOTIFY -> SSE) and the verified ledger head.

Figures and where they come from: ``docs/dispatchers.md``.
"""
