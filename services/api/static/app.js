// 太焦线 dispatch board. Plain JavaScript, no build step; charts with uPlot (vendored in static/vendor, no CDN).
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
  const SEVERITY = { alert: ["告警", "alert"], warn: ["注意", "warning"] };
  const LAG_AMBER = 5;   // blocks behind the ledger: the live dot turns amber ...
  const LAG_RED = 50;    // ... and red (also red when the stream is down)
  const state = {
    token: null, ref: null, data: null, follow: true, day: null, es: null, connected: false,
    inflight: false, again: false, prev: new Map(), rendered: false,
    filters: { station: "", product: "", buyer: "", mine: "" }, charts: {}, chartData: {}, historyAt: 0,
    alerts: [], seenAlerts: null,
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
  const kt = (kg) => ((kg || 0) / 1e6).toFixed(1);  // only where a chart axis says kt
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

  function query(extra) {
    const q = new URLSearchParams();
    if (!state.follow && state.day) q.set("date", state.day);
    for (const [k, v] of Object.entries(state.filters)) if (v) q.set(k, v);
    for (const [k, v] of Object.entries(extra || {})) if (v !== null && v !== undefined && v !== "") q.set(k, v);
    const text = q.toString();
    return text ? `?${text}` : "";
  }

  async function fetchAuth(path) {
    const r = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` } });
    if (r.status === 401) {
      askToken("令牌无效 invalid token");
      throw new Error("unauthorized");
    }
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r;
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
        render(await api(`/v1/views/dashboard${query()}`));
        await refreshCharts(false);
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
    es.addEventListener("alerts", (e) => {
      live();
      const msg = JSON.parse(e.data);
      if (state.follow && !anyFilter()) renderAlerts(msg.alerts, msg.new || []);
    });
    es.onerror = () => {
      setLive(false);
      if (es.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    };
    state.es = es;
  }

  const anyFilter = () => Object.values(state.filters).some((v) => v);

  function setLive(on) {
    state.connected = on;
    showLive();
  }

  // green: connected and the views keep up; amber: more than LAG_AMBER blocks behind; red: more than LAG_RED
  // behind, or the stream is down
  function showLive() {
    const lag = state.data ? state.data.lag_blocks : null;
    let level = "off";
    let text = bi("连接中", "connecting");
    if (!state.connected && state.rendered) {
      level = "red";
      text = bi("断开 重连中", "disconnected, reconnecting");
    } else if (state.connected) {
      level = lag > LAG_RED ? "red" : lag > LAG_AMBER ? "amber" : "on";
      text = level === "on" ? bi("实时", "live") : bi(`滞后 ${nf.format(lag)} 块`, `lagging ${nf.format(lag)} blocks`);
    }
    $("live").className = `live ${level}`;
    $("live").dataset.level = level;
    $("live-text").replaceChildren(...text);
  }

  // ---- rendering ------------------------------------------------------------------------------------
  function render(d) {
    state.data = d;
    if (!state.day || state.follow) state.day = d.date;
    $("day").textContent = d.date || "—";
    $("day-pick").value = d.date || "";
    if (d.latest_day) $("day-pick").max = d.latest_day;
    $("day-latest").classList.toggle("active", state.follow);
    document.body.classList.toggle("past", !!d.past);
    $("past-note").hidden = !d.past;
    renderChain(d);
    renderTiles(d);
    renderLine(d);
    renderGaps(d);
    renderTrains(d);
    renderDemand(d);
    renderDisputes(d);
    renderLots(d);
    renderAlerts(d.alerts, null);
    state.rendered = true;
    showLive();
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
        + ` · root ${head.root.slice(0, 16)}…`
        + ` · sealed ${clock(head.sealed_at, true)} CST`;
      const base = $("head-detail").textContent;  // who cosigned the newest witnessed checkpoint (2 of 3 in the demo)
      fetch("/v1/checkpoint/cosigned").then((r) => (r.ok ? r.json() : null)).then((c) => {
        $("head-detail").textContent = base + (c ? ` · 见证 cosigned at tree size ${nf.format(c.tree_size)} by`
          + ` ${c.witnesses.length}: ${c.witnesses.join(", ")}` : " · 见证 no witness cosignature yet");
      }).catch(() => {});
    }
    $("as-of-height").textContent = `#${nf.format(d.as_of_height)}`;
    const lag = $("lag");
    lag.textContent = d.lag_blocks === null ? "—" : nf.format(d.lag_blocks);
    lag.className = d.lag_blocks > LAG_RED ? "bad" : d.lag_blocks > LAG_AMBER ? "warn" : "";
    $("updated").textContent = clock(d.updated_at);
    renderSimClock(d);
  }

  // The simulated clock: the latest event time in the views. A simulated feed runs at 1x in real time once it
  // has caught up with the past (docs/dispatchers.md), so it should stay within minutes of the real clock.
  function renderSimClock(d) {
    if (!d.sim_clock) {
      $("sim-clock").textContent = "—";
      $("sim-behind").textContent = "";
      return;
    }
    $("sim-clock").textContent = new Date(d.sim_clock).toLocaleString("zh-CN", {
      timeZone: "Asia/Shanghai", hour12: false, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: "2-digit" });
    const behind = Math.round((Date.now() - Date.parse(d.sim_clock)) / 1000);
    const txt = behind < -600 ? "领先真实时间！ ahead of real time" : behind < 90 ? "1× 实时 live" : behind < 5400 ? `1× · 落后 ${Math.round(behind / 60)} min behind`
      : `落后 ${(behind / 3600).toFixed(1)} h behind real time`;
    $("sim-behind").textContent = txt;
  }

  function lineStations() {
    return state.ref.stations.filter((s) => s.line === "太焦线" && s.route_km !== null);
  }

  function renderTiles(d) {
    const onLine = new Set(lineStations().map((s) => s.code));
    const sum = (rows, f, keep) => rows.filter(keep || (() => true)).reduce((a, r) => a + (r[f] || 0), 0);
    const atLine = (r) => onLine.has(r.station) && (!state.filters.station || r.station === state.filters.station);
    const gap = d.gaps.reduce((a, g) => a + Math.max(0, g.gap_kg), 0);
    const over = d.sections.filter((x) => x.overbooked).length;
    const alerts = d.alerts.filter((a) => a.severity === "alert").length;
    const now = d.past ? " · 当前 now" : "";
    const tiles = [
      ["wagons_loaded", "装车", "wagons loaded", nf.format(sum(d.capacity, "wagons_loaded", atLine)), "车 wagons"],
      ["loaded_kg", "装车吨数", "tonnes loaded", tonnes(sum(d.capacity, "loaded_kg", atLine)), "t"],
      ["trains_departed", "发出列车", "trains departed", nf.format(sum(d.capacity, "trains_departed", atLine)), "列 trains"],
      ["trains_in_transit", "在途列车", "trains in transit", nf.format(d.trains_in_transit), d.past ? "列 at day end" : "列 trains"],
      ["stock_kg", "煤矿库存", "mine stock", tonnes(sum(d.stock, "stock_kg")), d.past ? "t at day end" : "t"],
      ["open_demand_kg", `开放需求 · ${nf.format(d.open_orders)} 单`, `open demand of ${nf.format(d.open_orders)} orders${now}`,
        tonnes(d.open_demand_kg), "t"],
      ["gap_kg", "当日缺口", "shortfall this day", tonnes(gap), "t", gap > 0 ? "alert" : ""],
      ["overbooked", "超能力区段", "sections over capacity", nf.format(over), "段 sections", over ? "alert" : ""],
      ["open_disputes", "到货异议", "open disputes", nf.format(d.open_disputes), `件 cases${now}`, d.open_disputes ? "alert" : ""],
      ["flagged_lots", "超标批次", "flagged lots on hand", nf.format(d.flagged_lots_total), `批 lots${now}`,
        d.flagged_lots_total ? "warnbox" : ""],
      ["alerts", "告警", "alerts", nf.format(alerts), `/ ${nf.format(d.alerts.length)}`, alerts ? "alert" : ""],
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
          text: `${r.product} ${tonnes(r.stock_kg)} t`,
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

  // The bar between stations: trains that ran over this segment against the capacity of the section it lies
  // in. The track is as long as max(capacity, used): the capacity mark stands where 100 % is, what ran beyond
  // it is drawn red past the mark, with the figure.
  function capacityBar(used, sec) {
    if (!sec) return el("div", { class: "seg-bar none" });
    const cap = sec.capacity_trains;
    const span = Math.max(cap, used, 1);
    const within = Math.min(used, cap);
    const pct = cap ? (100 * used) / cap : 0;
    const cls = used > cap ? "full" : pct >= 90 ? "busy" : "";
    return el("div", { class: `seg-bar ${cls}`, title: `${used} / ${cap} 列 trains (${pct.toFixed(0)} %)` },
      el("div", { class: "bar", style: `width:${((100 * within) / span).toFixed(2)}%` }),
      used > cap ? el("div", { class: "bar over", style: `width:${((100 * (used - cap)) / span).toFixed(2)}%` }) : null,
      cap ? el("div", { class: "cap-mark", style: `left:${((100 * cap) / span).toFixed(2)}%` }) : null);
  }

  function usedText(key, used, sec) {
    const cap = sec ? sec.capacity_trains : null;
    const over = sec && used > cap;
    return [
      fig(key, nf.format(used), over ? "short" : ""),
      el("span", { class: "unit", text: " 列 trains" }),
      sec ? el("span", { class: "cap" }, " / ", fig(`${key}:capacity`, nf.format(cap)),
        ` 能力 capacity · ${cap ? `${Math.round((100 * used) / cap)} %` : "—"}`,
        over ? el("span", { class: "over", text: ` · 超 over +${used - cap}` }) : null,
        ` (${station(sec.from_station).name_zh}→${station(sec.to_station).name_zh})`) : null,
    ];
  }

  function segmentRow(d, s, row) {
    const r = row || {};
    const used = r.used_down_trains || 0;
    const sec = sectionAt(d, s.code, "down");
    return el("div", { class: "segment", "data-segment": s.code },
      el("div", { class: "rail" }),
      el("div", { class: "seg-text" }, el("span", { class: "arrow", text: "▼" }), ...usedText(`${s.code}:used_down_trains`, used, sec)),
      capacityBar(used, sec));
  }

  // A published section off the line (月山 → 新乡): trains to its end or beyond, counted where it starts.
  function linkRow(sec) {
    const key = `link:${sec.from_station}>${sec.to_station}`;
    return el("div", { class: "segment link", "data-segment": key },
      el("div", { class: "rail" }),
      el("div", { class: "seg-text" }, el("span", { class: "arrow", text: "↘" }),
        el("span", { class: "link-name", text: `${station(sec.from_station).name_zh}→${station(sec.to_station).name_zh} ` }),
        ...usedText(`${key}:used_trains`, sec.used_trains, sec)),
      capacityBar(sec.used_trains, sec));
  }

  function renderLine(d) {
    const cap = new Map(d.capacity.map((r) => [r.station, r]));
    const onLine = new Set(lineStations().map((s) => s.code));
    const rows = [];
    const stations = lineStations();
    stations.forEach((s, i) => {
      rows.push(stationRow(d, s, cap.get(s.code), false));
      if (i < stations.length - 1) rows.push(segmentRow(d, s, cap.get(s.code)));
    });
    rows.push(el("div", { class: "beyond-head" }, ...bi("月山以远 到站", "destinations beyond Yueshan")));
    for (const sec of d.sections.filter((x) => x.direction === "down" && !onLine.has(x.to_station))) rows.push(linkRow(sec));
    for (const s of state.ref.stations.filter((x) => x.line !== "太焦线" && x.route_km !== null)) {
      rows.push(stationRow(d, s, cap.get(s.code), true));
    }
    $("line").replaceChildren(...rows);
    for (const x of document.querySelectorAll("#line .station")) {
      x.classList.toggle("selected", x.dataset.station === state.filters.station);
    }
  }

  function table(id, head, rows, empty, total) {
    const thead = el("tr", {}, head.map(([zh, en, cls]) => el("th", { class: cls || "" }, ...bi(zh, en))));
    const body = rows.length ? rows : [el("tr", {}, el("td", { class: "empty", colspan: head.length }, ...bi(empty[0], empty[1])))];
    const out = [el("thead", {}, thead), el("tbody", {}, body)];
    if (total !== undefined && total > rows.length) {
      out.push(el("tfoot", {}, el("tr", {}, el("td", { class: "more", colspan: head.length },
        ...bi(`显示 ${nf.format(rows.length)} / 共 ${nf.format(total)}`, `showing ${rows.length} of ${nf.format(total)} · CSV has all`)))));
    }
    $(id).replaceChildren(...out);
    $(id).dataset.rows = String(rows.length);
    if (total !== undefined) $(id).dataset.total = String(total);
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
      ["发车", "departed CST", "num"]], rows, ["无在途列车", "no train in transit"], d.trains_in_transit);
  }

  function renderDemand(d) {
    const rows = d.demand.map((o) => el("tr", {},
      el("td", {}, short((state.ref.participantBy.get(o.buyer_id) || {}).name || o.buyer_id || "—")),
      el("td", {}, product(o.product)), el("td", {}, station(o.destination).name_zh),
      num(`order:${o.order_id}:ordered`, tonnes(o.ordered_kg)), num(`order:${o.order_id}:open`, tonnes(o.open_kg), "strong"),
      num(`order:${o.order_id}:transit`, tonnes(o.in_transit_kg)), num(`order:${o.order_id}:delivered`, tonnes(o.delivered_kg)),
      num(`order:${o.order_id}:confirmed`, tonnes(o.confirmed_kg)),
      num(`order:${o.order_id}:disputed`, tonnes(o.disputed_kg), o.disputed_kg ? "alert" : "")));
    table("demand", [["买方", "buyer"], ["品种", "product"], ["到站", "to"], ["订量", "ordered t", "num"],
      ["未装", "open t", "num"], ["在途", "in transit t", "num"], ["已卸", "delivered t", "num"],
      ["确认", "confirmed t", "num"], ["异议", "disputed t", "num"]], rows, ["无开放需求", "no open order"], d.open_orders);
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
      ["认可", "accepted t", "num"], ["时间", "at CST", "num"]], rows, ["无未结异议", "no open dispute"], d.open_disputes);
  }

  function renderLots(d) {
    const rows = d.flagged_lots.map((l) => el("tr", {},
      el("td", { class: "mono", text: l.lot_id || "" }),
      el("td", {}, (state.ref.mineBy.get(l.mine_id) || {}).name_zh || l.mine_id || "—"),
      el("td", {}, product(l.product)), el("td", { class: "num", text: tonnes(l.on_hand_kg) }),
      el("td", { class: "num", text: l.assay ? `${l.assay.ad_pct} / ${l.assay.st_d_pct}` : "—" }),
      el("td", { class: "flags" }, (l.flags || []).map((f) => el("span", { class: "chip", text: FLAGS[f] || f })))));
    table("lots", [["批次", "lot"], ["煤矿", "mine"], ["品种", "product"], ["库存", "on hand t", "num"],
      ["Ad / St,d %", "ash / sulphur", "num"], ["超标项", "limits broken"]], rows, ["无超标批次", "no flagged lot"],
      d.flagged_lots_total);
    $("lots-count").textContent = nf.format(d.flagged_lots_total);
  }

  // ---- alerts -------------------------------------------------------------------------------------
  function alertText(a) {
    const mine = (id) => (state.ref.mineBy.get(id) || {}).name_zh || id;
    const buyer = (id) => short((state.ref.participantBy.get(id) || {}).name || id || "—");
    if (a.kind === "section_busy") {
      return [`${station(a.from_station).name_zh}→${station(a.to_station).name_zh} ${a.used_trains} / ${a.capacity_trains} 列`,
        a.over_trains ? `section over capacity by ${a.over_trains} trains (${a.used_pct} %)` : `section at ${a.used_pct} % of capacity`];
    }
    if (a.kind === "stock_low") {
      return [`${mine(a.mine_id)} ${a.product} 库存 ${tonnes(a.stock_kg)} t，够 ${a.days_of_cover} 天`,
        `stock covers ${a.days_of_cover} days of demand (${tonnes(a.daily_demand_kg)} t/day; threshold ${a.stock_days} days)`];
    }
    if (a.kind === "lot_flagged") {
      return [`批次 ${a.lot_id} ${mine(a.mine_id)} ${a.product} ${tonnes(a.on_hand_kg)} t 超标`,
        `lot on hand breaks the quality limits: ${(a.flags || []).map((f) => FLAGS[f] || f).join(", ")}`];
    }
    const reason = REASONS[a.reason_code] || [a.reason_code, ""];
    return [`异议 ${a.shipment_id} ${buyer(a.buyer_id)} ${reason[0]} 实收 ${tonnes(a.measured_kg)} t`, `dispute opened: ${reason[1]}`];
  }

  function renderAlerts(alerts, fresh) {
    state.alerts = alerts || [];
    const seen = state.seenAlerts;
    const isNew = (a) => (fresh ? fresh.includes(a.key) : seen !== null && !seen.has(a.key));
    const rows = state.alerts.slice(0, 40).map((a) => {
      const [zh, en] = alertText(a);
      const sev = SEVERITY[a.severity] || [a.severity, ""];
      return el("li", { class: `alert-item ${a.severity} ${isNew(a) ? "new" : ""}`, "data-alert": a.key, "data-kind": a.kind },
        el("span", { class: "sev", text: sev[0] }), el("span", { class: "zh", text: zh }), el("span", { class: "en", text: en }));
    });
    if (!rows.length) rows.push(el("li", { class: "empty" }, ...bi("无告警", "no alert")));
    if (state.alerts.length > 40) rows.push(el("li", { class: "more" }, ...bi(`共 ${state.alerts.length} 条`, `${state.alerts.length} in all · CSV has all`)));
    $("alerts").replaceChildren(...rows);
    $("alerts-count").textContent = nf.format(state.alerts.length);
    state.seenAlerts = new Set(state.alerts.map((a) => a.key));
  }

  // ---- charts (uPlot): 30 days up to the day shown -----------------------------------------------------
  const CHART_DAYS = 30;

  function chartSection(h) {
    const code = state.filters.station;
    const km = (c) => station(c).route_km;
    const pick = h.sections.find((x) => code && (x.from_station === code || x.to_station === code
      || (km(x.from_station) <= km(code) && km(code) < km(x.to_station))))
      || h.sections.find((x) => x.from_station === "CBF") || h.sections[0];
    return pick || null;
  }

  function chartSpecs(h) {
    const sec = chartSection(h);
    const stationName = state.filters.station ? station(state.filters.station).name_zh : "全线 whole line";
    const mineName = state.filters.mine ? (state.ref.mineBy.get(state.filters.mine) || {}).name_zh : "全部煤矿 all mines";
    const prod = state.filters.product ? ` · ${state.filters.product}` : "";
    const t = (xs) => xs.map((v) => Math.round(v / 1000));
    return {
      loaded: { title: `装车 t loaded per day · ${stationName}`, series: [["装车 loaded t", "#1f5fa8", t(h.station.loaded_kg)]] },
      trains: sec ? { title: `列车 vs 能力 trains vs capacity · ${station(sec.from_station).name_zh}→${station(sec.to_station).name_zh}`,
        series: [["开行 trains", "#263238", sec.used_trains], ["能力 capacity", "#c62828", sec.capacity_trains]] }
        : { title: "列车 vs 能力 trains vs capacity", series: [] },
      stock: { title: `库存 t stock at day end · ${mineName}${prod}`, series: [["库存 stock t", "#1b7f3b", t(h.mine.stock_kg)],
        ["装出 loaded t", "#78909c", t(h.mine.loaded_kg)]] },
      demand: { title: `需求/装车/缺口 t demand, loaded, shortfall${prod}`, series: [["需求 demand t", "#b26a00", t(h.demand.demand_kg)],
        ["装车 loaded t", "#1f5fa8", t(h.demand.supply_kg)], ["缺口 shortfall t", "#c62828", t(h.demand.shortfall_kg)]] },
    };
  }

  function drawChart(id, spec, xs) {
    const box = $(`chart-${id}`);
    box.querySelector(".chart-title").textContent = spec.title;
    const plot = box.querySelector(".plot");
    const width = Math.max(240, plot.clientWidth || 300);
    const data = [xs, ...spec.series.map((x) => x[2])];
    state.chartData[id] = { title: spec.title, days: xs.length, series: spec.series.map((x) => [x[0], x[2]]) };
    const sig = JSON.stringify(spec.series.map((x) => x[0]));
    const old = state.charts[id];
    if (old && old.sig === sig) {
      old.u.setData(data);
      if (Math.abs(old.u.width - width) > 4) old.u.setSize({ width, height: 170 });
      return;
    }
    if (old) old.u.destroy();
    const opts = {
      width, height: 170, legend: { show: true }, cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [{ space: 60 }, { size: 52, values: (u, v) => v.map((n) => (Math.abs(n) >= 10000 ? `${nf.format(n / 1000)}k` : nf.format(n))) }],
      series: [{ label: "日 day", value: (u, v) => (v ? new Date((v + 8 * 3600) * 1000).toISOString().slice(0, 10) : "—") },
        ...spec.series.map(([label, color]) => ({ label, stroke: color, width: 2, points: { show: false },
          value: (u, v) => (v === null || v === undefined ? "—" : nf.format(v)) }))],
    };
    state.charts[id] = { u: new uPlot(opts, data, plot), sig };
  }

  async function refreshCharts(force) {
    if (typeof uPlot === "undefined") return;
    const now = Date.now();
    const q = query({ days: CHART_DAYS });
    if (q !== state.chartQuery) force = true;
    if (!force && now - state.historyAt < 3000) {
      clearTimeout(state.chartTimer);
      state.chartTimer = setTimeout(() => refreshCharts(true), 3000);
      return;
    }
    state.historyAt = now;
    state.chartQuery = q;
    try {
      const h = await api(`/v1/views/history${q}`);
      if (!h.days.length) return;
      const xs = h.days.map((d) => Date.parse(`${d}T00:00:00+08:00`) / 1000);
      for (const [id, spec] of Object.entries(chartSpecs(h))) drawChart(id, spec, xs);
      $("charts").dataset.end = h.end;
      $("charts").dataset.height = String(h.as_of_height);
    } catch (e) {
      console.warn("charts failed", e);
    }
  }
  window.coalchainCharts = state.chartData;  // what each chart draws (the browser tests read it)

  // ---- filters and CSV -----------------------------------------------------------------------------
  function option(value, text) { return el("option", { value, text }); }

  function fillFilters() {
    const ref = state.ref;
    const stations = ref.stations.filter((x) => x.route_km !== null);
    $("f-station").replaceChildren(option("", "全部车站 all stations"), ...stations.map((x) => option(x.code, `${x.name_zh} ${x.code}`)));
    $("f-product").replaceChildren(option("", "全部品种 all products"), ...ref.products.map((p) => option(p.code, `${p.code} ${p.name_zh}`)));
    $("f-buyer").replaceChildren(option("", "全部买方 all buyers"), ...ref.participants.filter((p) => (p.roles || []).includes("buyer"))
      .map((p) => option(p.id, short(p.name))));
    $("f-mine").replaceChildren(option("", "全部煤矿 all mines"), ...ref.mines.map((m) => option(m.mine_id, m.name_zh)));
  }

  const EXPORTS = {
    gaps: () => ({ destination: state.filters.station }), trains: () => ({ station: state.filters.station, date: state.data && state.data.past ? state.day : "" }),
    demand: () => ({ buyer: state.filters.buyer, product: state.filters.product, destination: state.filters.station, limit: 2000 }),
    disputes: () => ({ buyer: state.filters.buyer, product: state.filters.product, limit: 2000 }),
    lots: () => ({ mine: state.filters.mine, product: state.filters.product, flagged: "true", limit: 2000 }),
    capacity: () => ({}), sections: () => ({}), stock: () => ({ mine: state.filters.mine, product: state.filters.product }),
    alerts: () => ({ station: state.filters.station, product: state.filters.product, buyer: state.filters.buyer, mine: state.filters.mine }),
  };

  // The same parameters as the JSON endpoint the table shows (so the file's rows are the API's rows)
  function exportUrl(table) {
    const q = new URLSearchParams();
    const day = !state.follow && state.day ? state.day : "";
    if (day && ["capacity", "sections", "gaps", "alerts"].includes(table)) q.set("date", day);
    for (const [k, v] of Object.entries(EXPORTS[table]())) if (v) q.set(k, v);
    return `/v1/views/export/${table}.csv${q.toString() ? `?${q}` : ""}`;
  }
  window.coalchainExportUrl = exportUrl;

  async function download(table) {
    const r = await fetchAuth(exportUrl(table));
    const blob = await r.blob();
    const name = (r.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
    const a = el("a", { href: URL.createObjectURL(blob), download: name ? name[1] : `${table}.csv` });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
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
    const goto = (day) => {
      if (!day) return;
      const latest = state.data && state.data.latest_day;
      state.follow = !!latest && day >= latest;
      state.day = state.follow ? latest : day;
      refresh();
    };
    $("day-prev").addEventListener("click", () => state.day && goto(shift(state.day, -1)));
    $("day-next").addEventListener("click", () => state.day && goto(shift(state.day, 1)));
    $("day-pick").addEventListener("change", (e) => goto(e.target.value));
    $("day-latest").addEventListener("click", () => { state.follow = true; refresh(); });
    for (const name of Object.keys(state.filters)) {
      $(`f-${name}`).addEventListener("change", (e) => { state.filters[name] = e.target.value; refresh(); });
    }
    $("f-clear").addEventListener("click", () => {
      for (const name of Object.keys(state.filters)) { state.filters[name] = ""; $(`f-${name}`).value = ""; }
      refresh();
    });
    for (const b of document.querySelectorAll("button.csv")) {
      b.addEventListener("click", () => download(b.dataset.table).catch((e) => console.warn("export failed", e)));
    }
    let resized = null;
    window.addEventListener("resize", () => { clearTimeout(resized); resized = setTimeout(() => refreshCharts(true), 200); });
  }

  async function main() {
    wire();
    initToken();
    await loadReference();
    fillFilters();
    if (!state.token) return askToken();
    connect();
    await refresh();
    setInterval(refresh, 10000);
    setInterval(showLive, 2000);
  }

  main().catch((e) => console.error(e));
})();
