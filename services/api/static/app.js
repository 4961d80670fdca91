// 太焦线 dispatch board. Plain JavaScript, no build step, no library.
// Data: GET /v1/views/dashboard (one snapshot "as of block h"), refreshed whenever the event stream
// /v1/views/stream reports a folded block (and every 10 s as a fallback). Everything is written with
// textContent: nothing from the ledger is ever parsed as HTML.
"use strict";
(() => {
  const TOKEN_KEY = "coalchain.dispatcherToken";
  const REASONS = {
    weight_shortfall: ["亏吨", "weight shortfall"], quality_below_contract: ["质量不符", "quality below contract"],
    wrong_product: ["品种不符", "wrong product"], contamination: ["混杂", "contamination"],
    wagons_missing: ["车辆缺失", "wagons missing"], late_delivery: ["延误", "late delivery"],
    documents_mismatch: ["单据不符", "documents mismatch"], other: ["其他", "other"],
  };
  const FLAGS = {
    "quality-ash-limit": "灰分超标 ash", "quality-sulphur-limit": "硫分超标 sulphur",
    "quality-long-haul-calorific": "远程热值低 long-haul Qnet", "quality-long-haul-ash": "远程灰分 long-haul ash",
    "quality-long-haul-sulphur": "远程硫分 long-haul sulphur", "quality-class-mismatch": "煤类不符 class",
  };
  const LIMITS = { rail: ["铁路运力", "rail capacity"], loading: ["装车不足", "loading"] };
  const state = {
    token: null, ref: null, data: null, follow: true, day: null, es: null,
    inflight: false, again: false, prev: new Map(), rendered: false,
  };
  const $ = (id) => document.getElementById(id);
  const nf = new Intl.NumberFormat("en-US");

  // ---- small helpers ------------------------------------------------------------------------------
  function el(tag, props, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) e.append(k);
    return e;
  }
  const bi = (zh, en) => [el("span", { class: "zh", text: zh }), el("span", { class: "en", text: en })];
  const tonnes = (kg) => nf.format(Math.round((kg || 0) / 1000));
  const kt = (kg) => ((kg || 0) / 1e6).toFixed(1);
  const big = (kg) => (Math.abs(kg || 0) >= 1e8 ? `${kt(kg)} kt` : `${tonnes(kg)} t`);
  const clock = (iso, withDay) => (iso ? new Date(iso).toLocaleString("zh-CN", {
    timeZone: "Asia/Shanghai", hour12: false, hour: "2-digit", minute: "2-digit",
    ...(withDay ? { month: "2-digit", day: "2-digit" } : { second: "2-digit" }),
  }) : "—");
  const shift = (day, n) => {
    const d = new Date(`${day}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  };
  const station = (code) => state.ref.stationBy.get(code) || { code, name_zh: code, name_en: "" };
  const short = (name) => (name || "").replace(/（示例）$/, "");

  // A figure cell remembers its last text; a changed value flashes.
  function fig(key, text, cls) {
    const span = el("span", { class: `fig ${cls || ""}`, "data-figure": key, text });
    const before = state.prev.get(key);
    if (state.rendered && before !== undefined && before !== text) span.classList.add("flash");
    state.prev.set(key, text);
    return span;
  }

  // ---- token and data -------------------------------------------------------------------------------
  function initToken() {
    const url = new URL(location.href);
    const given = url.searchParams.get("token");
    if (given) {
      sessionStorage.setItem(TOKEN_KEY, given);
      url.searchParams.delete("token");
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
    state.token = sessionStorage.getItem(TOKEN_KEY) || document.body.dataset.devToken || null;
  }

  function askToken(message) {
    $("token-form").hidden = false;
    $("token-error").textContent = message || "";
  }

  async function api(path) {
    const r = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
    if (r.status === 401) {
      askToken("令牌无效 invalid token");
      throw new Error("unauthorized");
    }
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.json();
  }

  async function loadReference() {
    const ref = await (await fetch("/v1/views/reference")).json();
    ref.stationBy = new Map(ref.stations.map((s) => [s.code, s]));
    ref.productBy = new Map(ref.products.map((p) => [p.code, p]));
    ref.participantBy = new Map(ref.participants.map((p) => [p.id, p]));
    ref.mineBy = new Map(ref.mines.map((m) => [m.mine_id, m]));
    state.ref = ref;
  }

  async function refresh() {
    if (!state.token) return askToken();
    if (state.inflight) {
      state.again = true;
      return;
    }
    state.inflight = true;
    try {
      do {
        state.again = false;
        const q = state.follow || !state.day ? "" : `?date=${state.day}`;
        render(await api(`/v1/views/dashboard${q}`));
      } while (state.again);
    } catch (e) {
      console.warn("refresh failed", e);
    } finally {
      state.inflight = false;
    }
  }

  function connect() {
    if (state.es) state.es.close();
    const es = new EventSource(`/v1/views/stream?token=${encodeURIComponent(state.token)}`);
    const live = () => setLive(true);
    es.addEventListener("hello", () => { live(); refresh(); });
    es.addEventListener("views", () => { live(); refresh(); });
    es.addEventListener("resync", () => { live(); refresh(); });
    es.onerror = () => {
      setLive(false);
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    };
    state.es = es;
  }

  function setLive(on) {
    $("live").className = `live ${on ? "on" : "off"}`;
    $("live-text").replaceChildren(...(on ? bi("实时", "live") : bi("重连中", "reconnecting")));
  }

  // ---- rendering ------------------------------------------------------------------------------------
  function render(d) {
    state.data = d;
    if (!state.day || state.follow) state.day = d.date;
    $("day").textContent = d.date || "—";
    $("day-latest").classList.toggle("active", state.follow);
    renderChain(d);
    renderTiles(d);
    renderLine(d);
    renderGaps(d);
    renderTrains(d);
    renderDemand(d);
    renderDisputes(d);
    renderLots(d);
    state.rendered = true;
  }

  function renderChain(d) {
    const head = d.head;
    $("head-height").textContent = head ? `#${nf.format(head.height)}` : "—";
    const badge = $("head-verified");
    if (!head) {
      badge.className = "badge";
      badge.replaceChildren(...bi("无区块", "no block yet"));
    } else {
      badge.className = `badge ${head.verified ? "ok" : "bad"}`;
      badge.replaceChildren(...(head.verified ? bi("✓ 签名已验证", "verified") : bi("✗ 未通过验证", "not verified")));
      badge.title = head.detail;
      $("head-detail").textContent = `区块 block #${head.height} · ${head.detail} · tree size ${nf.format(head.tree_size)}`
        + ` · root ${head.root.slice(0, 16)}… · 见证 witness cosignatures ${head.witness_cosignatures}`
        + ` · sealed ${clock(head.sealed_at, true)} CST`;
    }
    $("as-of-height").textContent = `#${nf.format(d.as_of_height)}`;
    const lag = $("lag");
    lag.textContent = d.lag_blocks === null ? "—" : nf.format(d.lag_blocks);
    lag.className = d.lag_blocks > 5 ? "warn" : "";
    $("updated").textContent = clock(d.updated_at);
  }

  function lineStations() {
    return state.ref.stations.filter((s) => s.line === "太焦线" && s.route_km !== null);
  }

  function renderTiles(d) {
    const onLine = new Set(lineStations().map((s) => s.code));
    const sum = (rows, f, keep) => rows.filter(keep || (() => true)).reduce((a, r) => a + (r[f] || 0), 0);
    const atLine = (r) => onLine.has(r.station);
    const gap = d.gaps.reduce((a, g) => a + Math.max(0, g.gap_kg), 0);
    const tiles = [
      ["wagons_loaded", "装车", "wagons loaded", nf.format(sum(d.capacity, "wagons_loaded", atLine)), "车 wagons"],
      ["loaded_kg", "装车吨数", "tonnes loaded", tonnes(sum(d.capacity, "loaded_kg", atLine)), "t"],
      ["trains_departed", "发出列车", "trains departed", nf.format(sum(d.capacity, "trains_departed", atLine)), "列 trains"],
      ["trains_in_transit", "在途列车", "trains in transit", nf.format(d.trains_in_transit), "列 trains"],
      ["stock_kg", "煤矿库存", "mine stock", kt(sum(d.stock, "stock_kg")), "kt"],
      ["open_demand_kg", "开放需求", "open demand", kt(d.open_demand_kg), `kt · ${d.open_orders} 单 orders`],
      ["gap_kg", "当日缺口", "gap this day", tonnes(gap), "t", gap > 0 ? "alert" : ""],
      ["open_disputes", "到货异议", "open disputes", nf.format(d.open_disputes), "件 cases", d.open_disputes ? "alert" : ""],
      ["flagged_lots", "超标批次", "flagged lots", nf.format(sum(d.stock, "flagged_lots")), "批 lots",
        sum(d.stock, "flagged_lots") ? "warnbox" : ""],
    ];
    $("tiles").replaceChildren(...tiles.map(([key, zh, en, value, unit, cls]) => el("div", { class: `tile ${cls || ""}`, id: `tile-${key}` },
      el("div", { class: "label" }, ...bi(zh, en)),
      el("div", { class: "value" }, fig(`tile:${key}`, value), el("span", { class: "unit", text: unit })))));
  }

  function sectionAt(d, code, direction) {
    const km = (c) => station(c).route_km;
    return d.sections.find((s) => s.direction === direction
      && km(s.from_station) <= km(code) && km(code) < km(s.to_station));
  }

  function minesAt(d, code) {
    const byMine = new Map();
    for (const r of d.stock) {
      const mine = state.ref.mineBy.get(r.mine_id);
      if (!mine || mine.railhead_station !== code) continue;
      if (!byMine.has(r.mine_id)) byMine.set(r.mine_id, []);
      byMine.get(r.mine_id).push(r);
    }
    return [...byMine.entries()].map(([id, rows]) => {
      const mine = state.ref.mineBy.get(id);
      const total = rows.reduce((a, r) => a + r.stock_kg, 0);
      const flagged = rows.reduce((a, r) => a + r.flagged_lots, 0);
      return el("div", { class: `mine ${flagged ? "flagged" : ""}`, "data-mine": id },
        el("div", { class: "mine-name" }, el("span", { class: "zh", text: mine.name_zh }),
          el("span", { class: "en", text: mine.name_en.replace(/ mine$/, "") }),
          flagged ? el("span", { class: "flag", title: "lots breaking the quality limits", text: `⚠ ${flagged}` }) : null),
        el("div", { class: "mine-total" }, fig(`mine:${id}`, tonnes(total)), el("span", { class: "unit", text: " t" })),
        el("div", { class: "mine-products" }, rows.filter((r) => r.stock_kg > 0).map((r) => el("span", {
          class: "prod", title: (state.ref.productBy.get(r.product) || {}).name_zh || r.product,
          text: `${r.product} ${kt(r.stock_kg)}kt`,
        }))));
    });
  }

  function stationRow(d, s, row, beyond) {
    const r = row || {};
    const code = s.code;
    const loading = s.kinds.includes("coal-loading");
    const short = (r.wagons_allocated || 0) < (r.wagons_requested || 0);
    const mines = beyond ? [] : minesAt(d, code);
    const busy = ["wagons_requested", "wagons_loaded", "trains_departed", "trains_arrived", "wagons_unloaded"]
      .some((f) => r[f]);
    const cls = `station ${beyond ? "beyond" : ""} ${loading ? "loading" : ""} ${busy || mines.length ? "" : "quiet"}`;
    return el("div", { class: cls, "data-station": code },
      el("div", { class: "rail" }, el("span", { class: "dot" })),
      el("div", { class: "name" },
        el("span", { class: "zh", text: s.name_zh }),
        el("span", { class: "en", title: `${s.route_km} km`, text: busy || mines.length
          ? `${s.name_en} · ${code} · ${s.route_km} km` : `${s.name_en} · ${code}` })),
      el("div", { class: "cell" }, fig(`${code}:wagons_requested`, nf.format(r.wagons_requested || 0)), " / ",
        fig(`${code}:wagons_allocated`, nf.format(r.wagons_allocated || 0), short ? "short" : "")),
      el("div", { class: "cell" }, fig(`${code}:wagons_loaded`, nf.format(r.wagons_loaded || 0)),
        el("span", { class: "unit", text: " 车 · " }), fig(`${code}:loaded_kg`, tonnes(r.loaded_kg), "strong"),
        el("span", { class: "unit", text: " t" })),
      el("div", { class: "cell" }, fig(`${code}:trains_departed`, nf.format(r.trains_departed || 0)), " / ",
        fig(`${code}:trains_arrived`, nf.format(r.trains_arrived || 0))),
      el("div", { class: "cell" }, fig(`${code}:wagons_unloaded`, nf.format(r.wagons_unloaded || 0)),
        el("span", { class: "unit", text: " 车 · " }), fig(`${code}:unloaded_kg`, tonnes(r.unloaded_kg)),
        el("span", { class: "unit", text: " t" })),
      el("div", { class: "mines" }, mines));
  }

  function segmentRow(d, s, row) {
    const r = row || {};
    const used = r.used_down_trains || 0;
    const sec = sectionAt(d, s.code, "down");
    const pct = sec && sec.capacity_trains ? Math.min(100, (100 * used) / sec.capacity_trains) : 0;
    const busy = pct >= 90 ? "full" : pct >= 70 ? "busy" : "";
    return el("div", { class: "segment", "data-segment": s.code },
      el("div", { class: "rail" }),
      el("div", { class: "seg-text" },
        el("span", { class: "arrow", text: "▼" }), fig(`${s.code}:used_down_trains`, nf.format(used)),
        el("span", { class: "unit", text: " 列 trains" }),
        sec ? el("span", { class: "cap", text: ` / 能力 ${sec.capacity_trains} 列 capacity (${station(sec.from_station).name_zh}→${station(sec.to_station).name_zh})` }) : null),
      el("div", { class: "seg-bar" }, sec ? el("div", { class: `bar ${busy}`, style: `width:${pct.toFixed(1)}%` }) : null));
  }

  function renderLine(d) {
    const cap = new Map(d.capacity.map((r) => [r.station, r]));
    const rows = [];
    const stations = lineStations();
    stations.forEach((s, i) => {
      rows.push(stationRow(d, s, cap.get(s.code), false));
      if (i < stations.length - 1) rows.push(segmentRow(d, s, cap.get(s.code)));
    });
    rows.push(el("div", { class: "beyond-head" }, ...bi("月山以远 到站", "destinations beyond Yueshan")));
    for (const s of state.ref.stations.filter((x) => x.line !== "太焦线" && x.route_km !== null)) {
      rows.push(stationRow(d, s, cap.get(s.code), true));
    }
    $("line").replaceChildren(...rows);
  }

  function table(id, head, rows, empty) {
    const thead = el("tr", {}, head.map(([zh, en, cls]) => el("th", { class: cls || "" }, ...bi(zh, en))));
    const body = rows.length ? rows : [el("tr", {}, el("td", { class: "empty", colspan: head.length }, ...bi(empty[0], empty[1])))];
    $(id).replaceChildren(el("thead", {}, thead), el("tbody", {}, body));
  }

  const num = (key, text, cls) => el("td", { class: `num ${cls || ""}` }, fig(key, text));
  const product = (code) => el("span", { title: (state.ref.productBy.get(code) || {}).name_zh || "", text: code });

  function renderGaps(d) {
    const rows = d.gaps.filter((g) => g.demand_kg || g.supply_kg || g.capacity_kg).map((g) => {
      const k = `gap:${g.destination}:${g.product}`;
      const lim = LIMITS[g.limit];
      return el("tr", { class: g.gap_kg > 0 ? "short" : "" },
        el("td", {}, station(g.destination).name_zh), el("td", {}, product(g.product)),
        num(`${k}:demand`, tonnes(g.demand_kg)), num(`${k}:supply`, tonnes(g.supply_kg)),
        num(`${k}:capacity`, tonnes(g.capacity_kg)), num(`${k}:gap`, tonnes(g.gap_kg), g.gap_kg > 0 ? "alert" : "ok"),
        el("td", { class: "limit" }, lim ? bi(lim[0], lim[1]) : "—"));
    });
    table("gaps", [["到站", "to"], ["品种", "product"], ["需求", "demand t", "num"], ["装车", "loaded t", "num"],
      ["运力", "rail cap. t", "num"], ["缺口", "gap t", "num"], ["制约", "limited by"]], rows, ["当日无需求", "no demand this day"]);
  }

  function renderTrains(d) {
    $("trains-count").textContent = nf.format(d.trains_in_transit);
    const rows = d.trains.map((t) => el("tr", {},
      el("td", { class: "mono", text: t.train_no || "—" }),
      el("td", {}, `${station(t.origin).name_zh} → ${station(t.destination).name_zh}`),
      el("td", { class: "num", text: nf.format(t.wagons || 0) }), el("td", { class: "num", text: tonnes(t.loaded_kg) }),
      el("td", { class: "num", text: clock(t.departed_at, true) })));
    table("trains", [["车次", "train"], ["区间", "from → to"], ["辆", "wagons", "num"], ["吨", "t", "num"],
      ["发车", "departed CST", "num"]], rows, ["无在途列车", "no train in transit"]);
  }

  function renderDemand(d) {
    const rows = d.demand.map((o) => el("tr", {},
      el("td", {}, short((state.ref.participantBy.get(o.buyer_id) || {}).name || o.buyer_id || "—")),
      el("td", {}, product(o.product)), el("td", {}, station(o.destination).name_zh),
      num(`order:${o.order_id}:ordered`, kt(o.ordered_kg)), num(`order:${o.order_id}:open`, kt(o.open_kg), "strong"),
      num(`order:${o.order_id}:transit`, tonnes(o.in_transit_kg)), num(`order:${o.order_id}:delivered`, tonnes(o.delivered_kg)),
      num(`order:${o.order_id}:confirmed`, tonnes(o.confirmed_kg)),
      num(`order:${o.order_id}:disputed`, tonnes(o.disputed_kg), o.disputed_kg ? "alert" : "")));
    table("demand", [["买方", "buyer"], ["品种", "product"], ["到站", "to"], ["订量", "ordered kt", "num"],
      ["未装", "open kt", "num"], ["在途", "in transit t", "num"], ["已卸", "delivered t", "num"],
      ["确认", "confirmed t", "num"], ["异议", "disputed t", "num"]], rows, ["无开放需求", "no open order"]);
  }

  function renderDisputes(d) {
    $("disputes-count").textContent = nf.format(d.open_disputes);
    const rows = d.disputes.map((x) => {
      const reason = REASONS[x.reason_code] || [x.reason_code, ""];
      return el("tr", {},
        el("td", { class: "mono", text: x.shipment_id }),
        el("td", {}, short((state.ref.participantBy.get(x.buyer_id) || {}).name || x.buyer_id || "—")),
        el("td", {}, ...bi(reason[0], reason[1])),
        el("td", { class: "num", text: tonnes(x.measured_kg) }), el("td", { class: "num", text: tonnes(x.accepted_kg) }),
        el("td", { class: "num", text: clock(x.at, true) }));
    });
    table("disputes", [["运单", "shipment"], ["买方", "buyer"], ["原因", "reason"], ["实收", "measured t", "num"],
      ["认可", "accepted t", "num"], ["时间", "at CST", "num"]], rows, ["无未结异议", "no open dispute"]);
  }

  function renderLots(d) {
    const rows = d.flagged_lots.map((l) => el("tr", {},
      el("td", { class: "mono", text: l.lot_id || "" }),
      el("td", {}, (state.ref.mineBy.get(l.mine_id) || {}).name_zh || l.mine_id || "—"),
      el("td", {}, product(l.product)), el("td", { class: "num", text: tonnes(l.on_hand_kg) }),
      el("td", { class: "num", text: l.assay ? `${l.assay.ad_pct} / ${l.assay.st_d_pct}` : "—" }),
      el("td", { class: "flags" }, (l.flags || []).map((f) => el("span", { class: "chip", text: FLAGS[f] || f })))));
    table("lots", [["批次", "lot"], ["煤矿", "mine"], ["品种", "product"], ["库存", "on hand t", "num"],
      ["Ad / St,d %", "ash / sulphur", "num"], ["超标项", "limits broken"]], rows, ["无超标批次", "no flagged lot"]);
  }

  // ---- wiring -------------------------------------------------------------------------------------
  function wire() {
    $("token-form").addEventListener("submit", (e) => {
      e.preventDefault();
      state.token = $("token-input").value.trim();
      sessionStorage.setItem(TOKEN_KEY, state.token);
      $("token-form").hidden = true;
      connect();
      refresh();
    });
    const go = (n) => {
      if (!state.day) return;
      state.follow = false;
      state.day = shift(state.day, n);
      refresh();
    };
    $("day-prev").addEventListener("click", () => go(-1));
    $("day-next").addEventListener("click", () => go(1));
    $("day-latest").addEventListener("click", () => { state.follow = true; refresh(); });
  }

  async function main() {
    wire();
    initToken();
    await loadReference();
    if (!state.token) return askToken();
    connect();
    await refresh();
    setInterval(refresh, 10000);
  }

  main().catch((e) => console.error(e));
})();
