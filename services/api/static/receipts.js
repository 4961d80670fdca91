// 太焦线 buyers' page. Sign-in: the API's challenge signed with the buyer's Ed25519 key (WebCrypto, in this
// browser). Confirm / dispute: the page builds the CloudEvent, canonicalises it (RFC 8785) and signs it as
// docs/ledger-format.md §4 says, posts it to /v1/events and follows it until sealed or rejected. Bundles are
// verified here, offline, by receipt-verify.js.
import { b64decode, b64encode, keyIdOf, loadTrust, signEvent, verifyBundle } from "./receipt-verify.js";

const CONFIG = JSON.parse(document.getElementById("config").textContent);
const $ = (id) => document.getElementById(id);
const subtle = crypto.subtle;
const state = { token: null, participant: null, key: null, keyId: null, trust: null, tracking: new Map() };

const kg = (v) => (v === null || v === undefined ? "—" : `${Number(v).toLocaleString("en-US")} kg`);
const t = (v) => (v === null || v === undefined ? "" : `${(v / 1000).toLocaleString("en-US", { maximumFractionDigits: 1 })} t`);
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else if (k === "text") e.textContent = v;
    else e[k] = v;
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}
const bi = (zh, en) => [el("span", { class: "zh", text: zh }), " ", el("span", { class: "en", text: en })];
const evLink = (ref) => (ref ? el("a", { class: "ev", href: `/v1/events/${ref.event_id}`, target: "_blank",
  title: `${ref.type} · ${ref.participant}`, text: `区块 #${ref.height} · leaf ${ref.leaf_index}` }) : null);

// --- keys -------------------------------------------------------------------------------------------------

const PKCS8_SEED_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
  0x04, 0x22, 0x04, 0x20]);
function pkcs8FromFile(text) {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) {
    const seed = Uint8Array.from(trimmed.match(/../g), (x) => parseInt(x, 16));
    const der = new Uint8Array(48);
    der.set(PKCS8_SEED_PREFIX);
    der.set(seed, 16);
    return der;
  }
  const m = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(trimmed);
  const der = m && b64decode(m[1].replace(/\s+/g, ""));
  if (!der) throw new Error("not a PKCS#8 PEM Ed25519 private key (BEGIN PRIVATE KEY) nor a 64-hex-character seed");
  return der;
}
const b64uDecode = (s) => b64decode(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4));

// The private key is imported once as extractable only to read its public half (JWK "x"), then re-imported
// non-extractable; only the non-extractable one is kept.
async function importKey(der) {
  const probe = await subtle.importKey("pkcs8", der, { name: "Ed25519" }, true, ["sign"]);
  const publicRaw = b64uDecode((await subtle.exportKey("jwk", probe)).x);
  const key = await subtle.importKey("pkcs8", der, { name: "Ed25519" }, false, ["sign"]);
  return { key, publicRaw };
}

const DB = "coalchain-buyer-keys";
function idb(mode, fn) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore("keys");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction("keys", mode);
      const req = fn(tx.objectStore("keys"));
      tx.oncomplete = () => resolve(req && req.result);
      tx.onerror = () => reject(tx.error);
    };
  });
}
const storeKey = (participant, value) => idb("readwrite", (s) => s.put(value, participant));
const storedKey = (participant) => idb("readonly", (s) => s.get(participant));

// --- API --------------------------------------------------------------------------------------------------

async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = { accept: "application/json" };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (raw) return r;
  const doc = await r.json().catch(() => ({}));
  if (!r.ok) {
    const detail = typeof doc.detail === "string" ? doc.detail : JSON.stringify(doc.detail ?? doc);
    const e = new Error(`${detail} (HTTP ${r.status})`);
    e.status = r.status;
    throw e;
  }
  return doc;
}

async function signIn(participant, key, publicRaw) {
  const challenge = await api("/v1/auth/challenge", { method: "POST", body: { participant } });
  const sig = new Uint8Array(await subtle.sign({ name: "Ed25519" }, key, new TextEncoder().encode(challenge.message)));
  state.keyId = await keyIdOf(publicRaw);
  const session = await api("/v1/auth/session", { method: "POST",
    body: { participant, challenge: challenge.challenge, key_id: state.keyId, signature: b64encode(sig) } });
  Object.assign(state, { token: session.token, participant, key });
  sessionStorage.setItem("coalchain.buyer", JSON.stringify({ token: session.token, participant, expires: session.expires_at }));
  showSession(session.expires_at);
}

function showSession(expires) {
  $("who").replaceChildren(...bi("已登录", "signed in as"), " ", el("strong", { id: "who-id", text: state.participant }));
  $("session-until").textContent = new Date(expires * 1000).toLocaleTimeString("zh-CN", { hour12: false });
  $("sign-out").hidden = false;
  $("signin").hidden = true;
  $("buyer").hidden = false;
  refresh();
}

// --- pending receipts ---------------------------------------------------------------------------------------

function markText(m) {
  if (m.kind === "weight") {
    const what = { unloaded_vs_loaded: "卸车 vs 装车 unloaded vs loaded", accepted_vs_unloaded: "验收 vs 卸车 accepted vs unloaded",
                   accepted_vs_loaded: "验收 vs 装车 accepted vs loaded" }[m.what] || m.what;
    return `⚠ ${what}: ${m.difference_kg > 0 ? "+" : ""}${m.difference_kg.toLocaleString("en-US")} kg (${m.difference_pct} %, tolerance ${m.tolerance_pct} %)`;
  }
  if (m.kind === "wagons") return `⚠ 车辆不符 wagons: missing ${m.missing_at_unloading.join(", ") || "—"}; not loaded ${m.not_loaded.join(", ") || "—"}`;
  return `⚠ 质量 ${m.what}: on record ${m.on_record}, received ${m.received} (${m.difference}, tolerance ${m.tolerance})`;
}

const ASSAY_FIELDS = [["qnet_ar_kcal_per_kg", "Qnet,ar", "kcal/kg"], ["ad_pct", "Ad", "%"], ["st_d_pct", "St,d", "%"],
                      ["mt_pct", "Mt", "%"], ["vdaf_pct", "Vdaf", "%"]];

function card(p, tolerances) {
  const ref = (kind) => p.events.find((e) => e.kind === kind);
  const rows = [
    [bi("装车净重", "loaded net (railway, at the mine's railhead)"), kg(p.loaded_net_weight_kg), evLink(ref("loading"))],
    [bi(p.transport === "truck" ? "过磅净重" : "卸车净重", p.transport === "truck" ? "weighbridge net (outbound tickets)" : "unloaded net"),
     kg(p.unloaded_net_weight_kg), p.transport === "truck" ? p.events.filter((e) => e.kind === "truck").map(evLink) : evLink(ref("unloading"))],
    [bi("订单", "order"), p.order_id, evLink(ref("order"))],
  ];
  const quality = p.assay ? ASSAY_FIELDS.filter(([f]) => f in p.assay).map(([f, n, u]) => `${n} ${p.assay[f]} ${u}`).join(" · ") : "—";
  rows.push([bi("质量（在案）", "quality on record"), quality, evLink(p.assay_source)]);
  const marks = p.discrepancies.length ? p.discrepancies.map((m) => el("span", { class: "mark", text: markText(m) }))
    : [el("span", { class: "mark none", text: `✓ 在允差内 within tolerance (weight ${tolerances.weight_pct} %)` })];
  const accept = el("input", { type: "number", min: 1, step: 1, value: p.unloaded_net_weight_kg ?? p.loaded_net_weight_kg ?? "", "data-field": "accept" });
  accept.setAttribute("data-field", "accept");
  const station = el("input", { value: p.unloading_station || p.destination_station || "", placeholder: "JOF", size: 6 });
  station.setAttribute("data-field", "station");
  const reason = el("select", {}, CONFIG.dispute_reasons.map((r) => el("option", { value: r, text: r })));
  reason.setAttribute("data-field", "reason");
  const measured = el("input", { type: "number", min: 1, step: 1, value: p.unloaded_net_weight_kg ?? "" });
  measured.setAttribute("data-field", "measured");
  const status = el("div", { class: "status", "data-status": "" });
  const confirm = el("button", { type: "button", "data-action": "confirm" }, bi("确认收货", "confirm"));
  const dispute = el("button", { type: "button", class: "danger", "data-action": "dispute" }, bi("提出异议", "dispute"));
  const c = el("div", { class: `card${p.discrepancies.length ? " marked" : ""}`, "data-shipment": p.shipment_id, "data-buyer": p.buyer_id },
    el("div", { class: "card-head" },
      el("span", { class: "sid", text: p.shipment_id }),
      el("span", { class: "route", text: `${p.transport === "truck" ? "汽运 truck" : "铁路 rail"} · ${p.mine_id || ""} ${p.lot_id || ""} ${p.product || ""} · ${p.origin_station || "—"} → ${p.unloading_station || p.destination_station || "—"}${p.wagon_count ? ` · ${p.wagon_count} wagons` : ""}` })),
    el("table", { class: "figs" }, rows.map(([h, v, link], k) => el("tr", {}, el("th", {}, h),
      el("td", { class: k === 3 ? "num wrap" : "num" }, v, " ", link)))),
    el("div", { class: "marks" }, marks),
    el("div", { class: "actions" },
      el("span", { class: "group" }, ...bi("验收净重", "accept kg"), accept),
      el("span", { class: "group" }, ...bi("收货站", "station"), station),
      confirm,
      el("span", { class: "group" }, ...bi("原因", "reason"), reason, ...bi("实测", "measured kg"), measured),
      dispute),
    status);
  confirm.onclick = () => answer(c, p, "DeliveryConfirmed");
  dispute.onclick = () => answer(c, p, "DeliveryDisputed");
  return c;
}

function setStatus(c, cls, text) {
  const s = c.querySelector("[data-status]");
  s.className = `status ${cls}`;
  s.setAttribute("data-status", cls);
  s.textContent = text;
  c.classList.remove("sealed", "rejected");
  if (cls === "sealed" || cls === "rejected") c.classList.add(cls);
}

async function answer(c, p, name) {
  const field = (f) => c.querySelector(`[data-field=${f}]`).value.trim();
  const intOf = (f) => (/^[1-9][0-9]*$/.test(field(f)) ? Number(field(f)) : null);
  const accepted = intOf("accept");
  if (!accepted || !field("station")) return setStatus(c, "rejected", "请填写验收净重和收货站 give the accepted kg and the receiving station");
  const data = { shipment_id: p.shipment_id, order_id: p.order_id, buyer_id: state.participant, station: field("station"),
                 accepted_net_weight_kg: accepted };
  if (name === "DeliveryDisputed") {
    if (!intOf("measured")) return setStatus(c, "rejected", "请填写实测净重 give the measured kg");
    Object.assign(data, { reason_code: field("reason"), measured_net_weight_kg: intOf("measured") });
  }
  const spec = CONFIG.types[name];
  const envelope = { specversion: "1.0", id: crypto.randomUUID(), source: `/participants/${state.participant}`, type: spec.type,
                     subject: p.shipment_id, time: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
                     datacontenttype: "application/json", dataschema: spec.dataschema, data };
  c.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  try {
    const signed = await signEvent(envelope, state.key, state.keyId);
    await api("/v1/events", { method: "POST", body: signed });
    c.setAttribute("data-event", signed.id);
    setStatus(c, "pending", `已签名并提交，待封装 signed and sent, waiting to be sealed · ${signed.id}`);
    follow(c, signed.id, name);
  } catch (e) {
    setStatus(c, "rejected", `未提交 not sent: ${e.message}`);
    c.querySelectorAll("button").forEach((b) => { b.disabled = false; });
  }
}

// Follow an event until it is sealed or rejected: GET /v1/events/{id} (404 or status "pending": not yet).
async function follow(c, id, name) {
  for (;;) {
    await new Promise((r) => setTimeout(r, 400));
    const r = await fetch(`/v1/events/${id}`, { headers: { accept: "application/json" } }).catch(() => null);
    if (!r || r.status === 404) continue;
    const doc = await r.json().catch(() => ({}));
    if (doc.status === "rejected") {
      setStatus(c, "rejected", `已拒绝 rejected: ${doc.reason} — ${doc.detail}`);
      return;
    }
    if (r.ok && doc.status !== "pending" && doc.height !== undefined) {
      const what = name === "DeliveryConfirmed" ? "已确认 confirmed" : "已提出异议 disputed";
      setStatus(c, "sealed", `${what} · 已封装 sealed in block #${doc.height}, leaf ${doc.leaf_index}`);
      refresh();
      return;
    }
  }
}

async function loadPending() {
  const doc = await api(`/v1/receipts/pending?buyer=${encodeURIComponent(state.participant)}&limit=200`);
  $("pending-count").textContent = doc.pending.length >= 200 ? "200+" : doc.pending.length; // the oldest 200 are shown
  $("tolerance").textContent = `截至区块 as of tree size ${doc.as_of.tree_size} · 允差 tolerances: weight ${doc.tolerances.weight_pct} %, ` +
    Object.entries(doc.tolerances.assay).map(([k, v]) => `${k} ${v}`).join(", ");
  const keep = new Map([...document.querySelectorAll("#pending .card")].map((c) => [c.dataset.shipment, c]));
  const cards = doc.pending.map((p) => keep.get(p.shipment_id) || card(p, doc.tolerances));
  for (const [sid, c] of keep) if (c.dataset.event && !doc.pending.some((p) => p.shipment_id === sid)) cards.unshift(c);
  $("pending").replaceChildren(...(cards.length ? cards : [el("div", { class: "muted", text: "没有待确认的到货 nothing is waiting for you" })]));
}

async function loadAnswered() {
  const doc = await api(`/v1/receipts/answered?buyer=${encodeURIComponent(state.participant)}&limit=50`);
  const head = el("tr", {}, ["发运 shipment", "结论 answer", "区块 block", "凭证 bundle"].map((h) => el("th", { text: h })));
  const rows = doc.answered.map((a) => {
    const download = el("button", { type: "button", "data-action": "download" }, "下载 download");
    const check = el("button", { type: "button", class: "secondary", "data-action": "verify" }, "验证 verify");
    download.onclick = () => downloadBundle(a.shipment_id);
    check.onclick = () => verifyFetched(a.shipment_id);
    return el("tr", { "data-shipment": a.shipment_id },
      el("td", { text: a.shipment_id }),
      el("td", { class: a.decision === "confirmed" ? "ok" : "alert", text: a.decision === "confirmed" ? "确认 confirmed" : `异议 disputed (${a.reason_code})` }),
      el("td", { class: "num" }, `#${a.height}`, evLink(a)),
      el("td", {}, download, " ", check));
  });
  $("answered").replaceChildren(head, ...(rows.length ? rows : [el("tr", {}, el("td", { class: "empty", colSpan: 4, text: "—" }))]));
}

async function refresh() {
  try {
    await Promise.all([loadPending(), loadAnswered()]);
    $("status-line").textContent = `updated ${new Date().toLocaleTimeString("zh-CN", { hour12: false })}`;
  } catch (e) {
    $("status-line").textContent = `error: ${e.message}`;
    if (e.status === 401) signOut();
  }
}

// --- bundles ------------------------------------------------------------------------------------------------

async function bundleBytes(shipment) {
  const r = await api(`/v1/receipts/${encodeURIComponent(shipment)}`, { raw: true });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function downloadBundle(shipment) {
  const bytes = await bundleBytes(shipment);
  const a = el("a", { href: URL.createObjectURL(new Blob([bytes], { type: "application/json" })), download: `receipt-${shipment}.json` });
  document.body.append(a);
  a.click();
  a.remove();
}

function showVerdict(r, source) {
  const box = $("verify-result");
  box.hidden = false;
  box.className = `verdict ${r.ok ? "ok" : "bad"}`;
  box.setAttribute("data-ok", String(r.ok));
  box.setAttribute("data-check", r.ok ? "" : r.check);
  if (r.ok) {
    const s = r.summary;
    box.replaceChildren(el("div", { class: "head", text: `验证通过 RECEIPT VERIFIED — ${source}` }),
      `ledger ${s.ledger_id}, tree size ${s.tree_size} (block ${s.anchor_height}, sealed ${s.sealed_at}), root ${s.root.slice(0, 16)}…, witness cosignatures ${s.witnesses}\n` +
      `shipment ${s.shipment_id} (${s.transport}) for order ${s.order_id}: ${s.decision.toUpperCase()} by ${s.buyer}${s.reason_code ? ` (${s.reason_code})` : ""}\n` +
      `loaded ${kg(s.loaded_kg)} · ${s.transport === "truck" ? "tickets" : "unloaded"} ${kg(s.unloaded_kg)} · accepted ${kg(s.accepted_kg)}\n` +
      s.events.map((e) => `  ${e.kind.padEnd(9)} ${e.name} signed by ${e.participant}, block ${e.height}, leaf ${e.leaf_index}`).join("\n") +
      (s.discrepancies.length ? `\n${s.discrepancies.map(markText).join("\n")}` : "\nno discrepancy beyond the bundle's tolerances"));
  } else {
    box.replaceChildren(el("div", { class: "head", text: `验证失败 RECEIPT INVALID [${r.check}] — ${source}` }),
      `${r.where ? `${r.where}: ` : ""}${r.reason}`);
  }
}

async function verifyBytes(bytes, source) {
  if (!state.trust) {
    showVerdict({ ok: false, check: "trust", where: "", reason: "先加载信任文件 load a trust file first (coalchain trust export)" }, source);
    return;
  }
  showVerdict(await verifyBundle(bytes, state.trust), source);
}

async function verifyFetched(shipment) {
  await verifyBytes(await bundleBytes(shipment), `receipt-${shipment}.json (fetched)`);
}

// --- wiring ---------------------------------------------------------------------------------------------------

function signOut() {
  sessionStorage.removeItem("coalchain.buyer");
  Object.assign(state, { token: null, participant: null, key: null });
  location.reload();
}

$("signin-form").onsubmit = async (ev) => {
  ev.preventDefault();
  $("signin-error").textContent = "";
  const participant = $("participant").value.trim();
  const file = $("key-file").files[0];
  try {
    if (!file) throw new Error("选择私钥文件 choose your private key file (or use the key kept in this browser)");
    const { key, publicRaw } = await importKey(pkcs8FromFile(await file.text()));
    if ($("remember").checked) await storeKey(participant, { key, publicRaw });
    await signIn(participant, key, publicRaw);
  } catch (e) {
    $("signin-error").textContent = `登录失败 sign-in failed: ${e.message}`;
  }
};

$("participant").oninput = async () => {
  const found = await storedKey($("participant").value.trim()).catch(() => null);
  $("use-stored").hidden = !found;
};

$("use-stored").onclick = async () => {
  const participant = $("participant").value.trim();
  try {
    const found = await storedKey(participant);
    await signIn(participant, found.key, found.publicRaw);
  } catch (e) {
    $("signin-error").textContent = `登录失败 sign-in failed: ${e.message}`;
  }
};

$("generate").onclick = async () => {
  const participant = $("participant").value.trim();
  if (!participant) { $("signin-error").textContent = "先填写参与方 give your participant id first"; return; }
  const pair = await subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  const publicRaw = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  await storeKey(participant, { key: pair.privateKey, publicRaw });
  $("generated").hidden = false;
  $("generated").textContent = `新密钥已保存在本浏览器（私钥不可导出）。请联盟管理员为 ${participant} 登记此公钥（KeyRotated），封装后即可登录。 ` +
    `A new key is kept in this browser (private half non-extractable). Have the consortium admin register it for ${participant} ` +
    `(a sealed KeyRotated), then sign in with it. public key (base64): ${b64encode(publicRaw)} · key id: ${await keyIdOf(publicRaw)}`;
  $("use-stored").hidden = false;
};

$("sign-out").onclick = signOut;

$("trust-file").onchange = async () => {
  try {
    state.trust = await loadTrust(new Uint8Array(await $("trust-file").files[0].arrayBuffer()));
    $("trust-status").textContent = `已加载 loaded: ledger ${state.trust.ledgerId}, ${state.trust.sequencer.size} sequencer key(s), ${state.trust.participants.size} participants, ${state.trust.witnesses.length} witness(es)`;
    $("trust-status").setAttribute("data-loaded", "true");
  } catch (e) {
    state.trust = null;
    $("trust-status").textContent = `信任文件无效 not a trust file: ${e.message}`;
  }
};

$("bundle-file").onchange = async () => {
  const file = $("bundle-file").files[0];
  if (file) await verifyBytes(new Uint8Array(await file.arrayBuffer()), file.name);
};

// A session survives a reload of the tab, not the key: signing receipts needs the key again.
const saved = JSON.parse(sessionStorage.getItem("coalchain.buyer") || "null");
if (saved && saved.expires * 1000 > Date.now()) {
  Object.assign(state, { token: saved.token, participant: saved.participant });
  storedKey(saved.participant).then(async (found) => {
    if (found) Object.assign(state, { key: found.key, keyId: await keyIdOf(found.publicRaw) });
  }).catch(() => null);
  showSession(saved.expires);
}
setInterval(() => { if (state.token) refresh(); }, 15000);
document.body.dataset.ready = "true";
