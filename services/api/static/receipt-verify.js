// Receipt bundle verifier — a second, independent implementation, written from docs/ledger-format.md and
// docs/receipts.md only (not from the Python code). Runs offline in a browser page and under Node >= 20:
// it needs nothing but WebCrypto (SHA-256, Ed25519) and TextEncoder/TextDecoder.
//
//   import { verifyBundle } from "./receipt-verify.js";
//   const r = await verifyBundle(bundleBytesOrText, trustBytesOrText, { witnessQuorum: 0 });
//   r.ok ? r.summary : `RECEIPT INVALID [${r.check}]: ${r.where}: ${r.reason}`
//
// Checks, in the order of docs/receipts.md §5 (stops at the first failure, names its check code).
// What it does NOT check that the Python verifier does: the full JSON Schema of each event (the catalogue's
// schemas are not carried here); it checks the envelope and every field a receipt figure or rule reads.

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();

export const BUNDLE_FORMAT = "taijiao-coalchain/receipt-bundle/v1";
export const EVENT_TAG = "taijiao-coalchain/event/v1\n";
export const HEADER_TAG = "taijiao-coalchain/block-header/v1\n";
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const HEX64 = /^[0-9a-f]{64}$/;

// docs/receipts.md §1 (roles and owner fields are the catalogue's x-publisher-roles / x-owner-field / x-owner-kind).
export const RECEIPT_TYPES = {
  DemandPosted: { kind: "order", roles: ["buyer"], owner: "buyer_id", ownerKind: "participant" },
  WagonsLoaded: { kind: "loading", roles: ["railway"], owner: "station", ownerKind: "station" },
  WagonsUnloaded: { kind: "unloading", roles: ["railway"], owner: "station", ownerKind: "station" },
  TruckWeighed: { kind: "truck", roles: ["carrier"], owner: "station", ownerKind: "station" },
  LotAssayed: { kind: "assay", roles: ["mine"], owner: "mine_id", ownerKind: "mine" },
  DeliveryConfirmed: { kind: "receipt", roles: ["buyer"], owner: "buyer_id", ownerKind: "participant" },
  DeliveryDisputed: { kind: "receipt", roles: ["buyer"], owner: "buyer_id", ownerKind: "participant" },
};
const KINDS = ["order", "loading", "unloading", "truck", "assay", "receipt"];
const SINGLE_KINDS = ["order", "loading", "unloading", "assay", "receipt"];

export class Invalid extends Error {
  constructor(check, reason, where = "") {
    super(where ? `${where}: ${reason}` : reason);
    this.check = check;
    this.where = where;
    this.reason = reason;
  }
}

// --- strict I-JSON parsing (RFC 7493 / RFC 8785 §3.1): no duplicate names, no floats, exact integers -----

export class JsonError extends Error {}

export function parseStrictJSON(input) {
  const text = typeof input === "string" ? input : new TextDecoder("utf-8", { fatal: true }).decode(input);
  let i = 0;
  const fail = (msg) => { throw new JsonError(`${msg} at character ${i}`); };
  const ws = () => { while (i < text.length && " \t\n\r".includes(text[i])) i++; };
  const value = () => {
    ws();
    const c = text[i];
    if (c === "{") return object();
    if (c === "[") return array();
    if (c === '"') return string();
    if (c === "-" || (c >= "0" && c <= "9")) return number();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(word, i)) { i += word.length; return v; }
    }
    return fail("unexpected input");
  };
  const object = () => {
    i++;
    const out = Object.create(null);
    const names = new Set();
    ws();
    if (text[i] === "}") { i++; return out; }
    for (;;) {
      ws();
      if (text[i] !== '"') fail("expected a member name");
      const name = string();
      if (names.has(name)) fail(`duplicate member name ${JSON.stringify(name)}`);
      names.add(name);
      ws();
      if (text[i] !== ":") fail("expected ':'");
      i++;
      out[name] = value();
      ws();
      if (text[i] === ",") { i++; continue; }
      if (text[i] === "}") { i++; return out; }
      fail("expected ',' or '}'");
    }
  };
  const array = () => {
    i++;
    const out = [];
    ws();
    if (text[i] === "]") { i++; return out; }
    for (;;) {
      out.push(value());
      ws();
      if (text[i] === ",") { i++; continue; }
      if (text[i] === "]") { i++; return out; }
      fail("expected ',' or ']'");
    }
  };
  const string = () => {
    i++;
    let out = "";
    for (;;) {
      if (i >= text.length) fail("unterminated string");
      const c = text[i];
      if (c === '"') { i++; break; }
      if (c < " ") fail("control character in a string");
      if (c === "\\") {
        const e = text[i + 1];
        const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e in simple) { out += simple[e]; i += 2; continue; }
        if (e !== "u" || !/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail("bad escape");
        out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        i += 6;
        continue;
      }
      out += c;
      i++;
    }
    if (!out.isWellFormed()) fail("lone surrogate in a string");
    return out;
  };
  const number = () => {
    const m = /^-?(0|[1-9][0-9]*)([.eE][-+0-9.eE]*)?/.exec(text.slice(i, i + 400));
    if (!m) fail("bad number");
    if (m[2]) fail(`floating-point number ${m[0]} (the ledger forbids them)`);
    const n = Number(m[0]);
    if (!Number.isSafeInteger(n)) fail(`integer ${m[0]} beyond ±(2^53 − 1)`);
    i += m[0].length;
    return n === 0 ? 0 : n; // -0 → 0
  };
  const v = value();
  ws();
  if (i !== text.length) fail("trailing data");
  return v;
}

// --- RFC 8785 canonical JSON (integers and strings only, as the catalogue requires) ---------------------

export function jcs(v) {
  if (v === null || v === true || v === false) return String(v);
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new Invalid("format", `not canonical JSON data: ${v} is not an integer within ±(2^53 − 1)`);
    return String(v);
  }
  if (typeof v === "string") {
    if (!v.isWellFormed()) throw new Invalid("format", "not canonical JSON data: lone surrogate");
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(jcs).join(",")}]`;
  if (typeof v === "object") {
    const names = Object.keys(v).sort(); // default sort compares UTF-16 code units, as RFC 8785 §3.2.3 says
    return `{${names.map((k) => `${JSON.stringify(k)}:${jcs(v[k])}`).join(",")}}`;
  }
  throw new Invalid("format", `not canonical JSON data: ${typeof v}`);
}

// --- bytes, hashes, keys -------------------------------------------------------------------------------

const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};
export const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (h) => Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16));
const eq = (a, b) => a.length === b.length && a.every((x, k) => x === b[k]);
export const sha256 = async (bytes) => new Uint8Array(await subtle.digest("SHA-256", bytes));

export function b64encode(bytes) {
  let s = "";
  for (const x of bytes) s += String.fromCharCode(x);
  return btoa(s);
}
// strict: must re-encode to itself (ledger-format §1); returns null on anything else
export function b64decode(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) return null;
  let bin;
  try { bin = atob(text); } catch { return null; }
  const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return b64encode(out) === text ? out : null;
}
export const keyIdOf = async (raw) => hex(await sha256(raw));

async function ed25519Verify(raw, signature, message) {
  if (raw.length !== 32 || signature.length !== 64) return false;
  try {
    const key = await subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    return await subtle.verify({ name: "Ed25519" }, key, signature, message);
  } catch {
    return false;
  }
}

// --- RFC 6962 / RFC 9162 §2.1.3.2 inclusion proof -------------------------------------------------------

export async function rootFromInclusionProof(leafHash, index, treeSize, proof) {
  let fn = BigInt(index), sn = BigInt(treeSize) - 1n;
  if (fn > sn) return null;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0n) return null;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await sha256(concat([1], p, r));
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await sha256(concat([1], r, p));
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n ? r : null;
}

// --- C2SP signed notes and checkpoints (ledger-format §7) -----------------------------------------------

const noteKeyId = async (name, type, raw) => {
  const d = await sha256(concat(enc.encode(name), [0x0a, type], raw));
  return ((d[0] << 24) >>> 0) + (d[1] << 16) + (d[2] << 8) + d[3];
};

function parseNote(note) {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(note)) throw new Error("note contains control characters");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Error("note has no blank line before its signatures");
  const text = note.slice(0, split + 1), block = note.slice(split + 2);
  if (!block.endsWith("\n")) throw new Error("note must end with a newline");
  const signatures = block.slice(0, -1).split("\n").map((line) => {
    if (!line.startsWith("— ")) throw new Error("signature line must start with an em dash and a space");
    const rest = line.slice(2), sp = rest.lastIndexOf(" ");
    const name = rest.slice(0, sp), raw = b64decode(rest.slice(sp + 1));
    if (sp <= 0 || /[\s+]/.test(name)) throw new Error("signature line has an invalid key name");
    if (!raw || raw.length < 5) throw new Error("signature is not canonical base64 of a key id and a signature");
    return { name, keyId: ((raw[0] << 24) >>> 0) + (raw[1] << 16) + (raw[2] << 8) + raw[3], sig: raw.slice(4) };
  });
  return { text, signatures };
}

function parseCheckpointText(text) {
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3 || lines.slice(3).some((l) => l === "")) throw new Error("a checkpoint is origin, size, root (and extension lines)");
  if (!/^(0|[1-9][0-9]*)$/.test(lines[1]) || Number(lines[1]) > MAX_SAFE) throw new Error("checkpoint size is not a decimal integer");
  const root = b64decode(lines[2]);
  if (!root || root.length !== 32) throw new Error("checkpoint root is not base64 of 32 bytes");
  return { origin: lines[0], treeSize: Number(lines[1]), root };
}

async function parseVkey(vkey) {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+(.+)$/.exec(vkey);
  const raw = m && b64decode(m[3]);
  if (!raw || raw.length !== 33) throw new Error(`witness key ${vkey}: not <name>+<8 hex>+<base64(type ‖ key)>`);
  const v = { name: m[1], type: raw[0], key: raw.slice(1) };
  v.keyId = await noteKeyId(v.name, v.type, v.key);
  if (v.keyId !== parseInt(m[2], 16)) throw new Error(`witness key ${vkey}: key id does not match`);
  return v;
}

// --- trust file ------------------------------------------------------------------------------------------

export async function loadTrust(input) {
  const doc = typeof input === "object" && !(input instanceof Uint8Array) ? input : parseStrictJSON(input);
  const sequencer = new Map();
  for (const k of doc.sequencer_keys || []) {
    const raw = b64decode(k);
    if (!raw || raw.length !== 32) throw new Error("trust file: a sequencer key is not base64 of 32 bytes");
    sequencer.set(await keyIdOf(raw), raw);
  }
  const participants = new Map();
  for (const p of doc.participants || []) {
    const keys = new Map();
    for (const k of p.keys || []) {
      const raw = b64decode(k.public_key);
      if (!raw || raw.length !== 32) throw new Error(`trust file: a key of ${p.id} is not base64 of 32 bytes`);
      const kid = await keyIdOf(raw);
      if (k.key_id && k.key_id !== kid) throw new Error(`trust file: key_id of ${p.id} does not match its key`);
      keys.set(kid, raw);
    }
    participants.set(p.id, { id: p.id, roles: new Set(p.roles || []), mines: new Set(p.mines || []),
                             stations: new Set(p.stations || []), keys });
  }
  const witnesses = [];
  for (const w of doc.witnesses || []) witnesses.push(await parseVkey(w));
  return { ledgerId: String(doc.ledger_id), sequencer, participants, witnesses };
}

// --- the bundle ------------------------------------------------------------------------------------------

const isIndex = (v) => Number.isSafeInteger(v) && v >= 0;
const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const sameSet = (obj, names) => isObj(obj) && Object.keys(obj).length === names.length && names.every((n) => n in obj);
const MEMBERS = ["format", "ledger_id", "shipment_id", "tree_size", "checkpoint", "blocks", "events", "key_ids",
                 "tolerances", "discrepancies"];

function eventName(type) {
  if (typeof type !== "string" || !type.startsWith("cn.taijiao.coal.")) return null;
  const parts = type.split(".");
  return parts.length === 6 && /^v[0-9]+$/.test(parts[5]) ? parts[4] : null;
}

function structure(doc) {
  if (!isObj(doc)) throw new Invalid("format", "a bundle is a JSON object");
  if (doc.format !== BUNDLE_FORMAT) throw new Invalid("format", `'format' must be ${JSON.stringify(BUNDLE_FORMAT)}`, "format");
  const missing = MEMBERS.filter((m) => !(m in doc)), unknown = Object.keys(doc).filter((m) => !MEMBERS.includes(m));
  if (missing.length || unknown.length) throw new Invalid("format", `members missing [${missing}], unknown [${unknown}]`);
  const rules = [
    ["ledger_id", typeof doc.ledger_id === "string", "a string"],
    ["shipment_id", typeof doc.shipment_id === "string", "a string"],
    ["tree_size", isIndex(doc.tree_size) && doc.tree_size > 0, "a positive integer"],
    ["checkpoint", typeof doc.checkpoint === "string", "the signed note text"],
    ["blocks", Array.isArray(doc.blocks) && doc.blocks.length > 0, "a non-empty array"],
    ["events", Array.isArray(doc.events) && doc.events.length > 0, "a non-empty array"],
    ["key_ids", isObj(doc.key_ids), "an object"],
    ["discrepancies", Array.isArray(doc.discrepancies), "an array"],
  ];
  for (const [name, ok, what] of rules) if (!ok) throw new Invalid("format", `must be ${what}`, name);
}

async function checkpoint(doc, trust, quorum) {
  const origin = `taijiao-coalchain.cn/ledger/${trust.ledgerId}`;
  let note;
  try { note = parseNote(doc.checkpoint); } catch (e) { throw new Invalid("checkpoint", e.message, "checkpoint"); }
  const text = enc.encode(note.text);
  const trusted = new Map();
  for (const raw of trust.sequencer.values()) trusted.set(`${origin} ${await noteKeyId(origin, 0x01, raw)}`, raw);
  let verified = 0;
  for (const s of note.signatures) {
    const raw = trusted.get(`${s.name} ${s.keyId}`);
    if (!raw) continue;
    if (!(await ed25519Verify(raw, s.sig, text))) {
      throw new Invalid("checkpoint", "the checkpoint's sequencer signature does not verify (the note text or the signature was changed)", "checkpoint");
    }
    verified++;
  }
  if (!verified) throw new Invalid("checkpoint", `the checkpoint carries no signature by a sequencer key of the trust file under '${origin}'`, "checkpoint");
  let cp;
  try { cp = parseCheckpointText(note.text); } catch (e) { throw new Invalid("checkpoint", e.message, "checkpoint"); }
  if (cp.origin !== origin) throw new Invalid("checkpoint", `checkpoint origin '${cp.origin}' is not '${origin}'`, "checkpoint");
  if (cp.treeSize !== doc.tree_size) throw new Invalid("checkpoint", `the checkpoint is for tree size ${cp.treeSize}, the bundle for ${doc.tree_size}`, "checkpoint");
  const witnessed = new Set();
  for (const s of note.signatures) {
    const w = trust.witnesses.find((x) => x.name === s.name && x.keyId === s.keyId);
    if (!w) continue;
    let ok = w.type === 0x04 && s.sig.length === 72;
    if (ok) {
      const ts = new DataView(s.sig.buffer, s.sig.byteOffset, 8).getBigUint64(0);
      ok = ts < 2n ** 63n && (await ed25519Verify(w.key, s.sig.slice(8), concat(enc.encode(`cosignature/v1\ntime ${ts}\n`), text)));
    }
    if (!ok) throw new Invalid("witness", `the cosignature of witness ${s.name} does not verify`, "checkpoint");
    witnessed.add(`${s.name} ${s.keyId}`);
  }
  if (witnessed.size < quorum) throw new Invalid("witness", `quorum not met: ${witnessed.size} of the ${quorum} required trusted witness cosignatures`, "checkpoint");
  return { ...cp, witnesses: witnessed.size };
}

const HEADER_HEX = ["prev_hash", "log_root", "block_root"];
const HEADER_INT = ["height", "first_leaf_index", "leaf_count", "tree_size", "source_partition", "first_offset", "last_offset"];
const HEADER_STR = ["ledger_id", "source_topic", "sealed_at", "sequencer_key_id"];

function headerRules(h) {
  if (!isObj(h)) return "a header is a JSON object";
  const fields = [...HEADER_HEX, ...HEADER_INT, ...HEADER_STR];
  const unknown = Object.keys(h).filter((k) => !fields.includes(k)).sort();
  if (unknown.length) return `${unknown[0]}: unknown field`;
  for (const f of fields.slice().sort()) {
    if (!(f in h)) return `${f}: missing`;
    if (HEADER_HEX.includes(f) && !(typeof h[f] === "string" && HEX64.test(h[f]))) return `${f}: must be 64 lower-case hex characters`;
    if (HEADER_INT.includes(f) && !isIndex(h[f])) return `${f}: must be an integer in [0, 2^53 - 1]`;
    if (HEADER_STR.includes(f) && typeof h[f] !== "string") return `${f}: must be a string`;
  }
  if (!h.ledger_id) return "ledger_id: must be a non-empty string";
  if (!h.source_topic) return "source_topic: must be a non-empty string";
  if (!HEX64.test(h.sequencer_key_id)) return "sequencer_key_id: must be a key id";
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z$/.exec(h.sealed_at);
  const when = m && new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  if (!m || when.getUTCDate() !== +m[3] || when.getUTCHours() !== +m[4] || when.getUTCMinutes() !== +m[5] || when.getUTCSeconds() !== +m[6]) {
    return "sealed_at: must be RFC 3339 UTC, e.g. 2024-05-01T08:00:00Z";
  }
  if (h.leaf_count < 1) return "leaf_count: must be >= 1";
  if (h.tree_size !== h.first_leaf_index + h.leaf_count) return "tree_size: must be first_leaf_index + leaf_count";
  if (h.last_offset < h.first_offset) return "last_offset: must be >= first_offset";
  if (h.height === 0 && h.prev_hash !== "0".repeat(64)) return "prev_hash: must be 32 zero bytes at height 0";
  if (h.height === 0 && h.first_leaf_index !== 0) return "first_leaf_index: must be 0 at height 0";
  if (h.first_leaf_index === 0 && h.block_root !== h.log_root) return "block_root: must equal log_root when the block starts the log";
  return null;
}

async function blocks(entries, trust) {
  const out = new Map();
  let previous = -1;
  for (const [i, entry] of entries.entries()) {
    const where = `blocks[${i}]`;
    if (!sameSet(entry, ["height", "header", "signatures"]) || !Array.isArray(entry.signatures)) {
      throw new Invalid("format", "a block is an object with exactly ['header', 'height', 'signatures']", where);
    }
    const h = entry.header;
    const problem = headerRules(h);
    if (problem) throw new Invalid("header", `header field ${problem}`, where);
    const message = concat(enc.encode(HEADER_TAG), enc.encode(jcs(h)));
    const seen = new Set();
    for (const s of entry.signatures) {
      const sig = isObj(s) && sameSet(s, ["key_id", "signature"]) && HEX64.test(s.key_id) ? b64decode(s.signature) : null;
      if (!sig) throw new Invalid("header", "a header signature is {\"key_id\": 64 hex, \"signature\": canonical base64}", where);
      if (seen.has(s.key_id)) throw new Invalid("header", `two signatures by key id ${s.key_id}`, where);
      seen.add(s.key_id);
    }
    if (!seen.has(h.sequencer_key_id)) throw new Invalid("header", `no signature by the header's sequencer_key_id ${h.sequencer_key_id}`, where);
    for (const s of entry.signatures) {
      const raw = trust.sequencer.get(s.key_id);
      if (!raw) throw new Invalid("header", `header signed by key ${s.key_id}, which is not a sequencer key of the trust file`, where);
      if (!(await ed25519Verify(raw, b64decode(s.signature), message))) {
        throw new Invalid("header", `the signature of block ${h.height}'s header does not verify (the header or its signature was changed)`, where);
      }
    }
    if (h.ledger_id !== trust.ledgerId) throw new Invalid("header", `header is for ledger '${h.ledger_id}'`, where);
    if (entry.height !== h.height || h.height <= previous) {
      throw new Invalid("header", `height ${entry.height} does not match the header's ${h.height}, or blocks are not in increasing height`, where);
    }
    previous = h.height;
    out.set(h.height, h);
  }
  return out;
}

function anchor(blockMap, treeSize, cp) {
  for (const h of blockMap.values()) {
    if (h.tree_size > treeSize) throw new Invalid("anchor", `block ${h.height} ends at tree size ${h.tree_size}, beyond the bundle's ${treeSize}`, `blocks[height=${h.height}]`);
  }
  const a = [...blockMap.values()].find((h) => h.tree_size === treeSize);
  if (!a) throw new Invalid("anchor", `no block header ends at the bundle's tree size ${treeSize}`, "blocks");
  if (a.log_root !== hex(cp.root)) throw new Invalid("anchor", `block ${a.height}'s log root ${a.log_root} is not the checkpoint root ${hex(cp.root)}`, `blocks[height=${a.height}]`);
  return a;
}

// The envelope and the fields the receipt figures and rules read (the full schema is the catalogue's).
const STRINGS = ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema"];
const FIGURES = {
  order: { str: ["order_id", "buyer_id"], int: [] },
  loading: { str: ["shipment_id", "order_id", "buyer_id", "lot_id", "station"], int: ["total_net_weight_kg"] },
  unloading: { str: ["shipment_id", "order_id", "station"], int: ["total_net_weight_kg"] },
  truck: { str: ["ticket_no", "direction", "station"], int: ["net_weight_kg"] },
  assay: { str: ["lot_id", "mine_id"], int: [] },
  receipt: { str: ["shipment_id", "order_id", "buyer_id", "station"], int: ["accepted_net_weight_kg"] },
};

function shape(ev, kind) {
  for (const m of STRINGS) if (typeof ev[m] !== "string") return `'${m}' must be a string`;
  if (ev.specversion !== "1.0") return "'specversion' must be '1.0'";
  if (!/^\/participants\/[a-z][a-z0-9-]+$/.test(ev.source)) return "'source' must be /participants/<id>";
  if (!isObj(ev.data)) return "'data' must be an object";
  const f = FIGURES[kind];
  for (const n of f.str) if (n in ev.data && typeof ev.data[n] !== "string") return `data.${n} must be a string`;
  for (const n of f.int) if (!(Number.isSafeInteger(ev.data[n]) && ev.data[n] >= 0)) return `data.${n} must be a non-negative integer`;
  const wagons = ev.data.wagons;
  if (wagons !== undefined && !(Array.isArray(wagons) && wagons.every((w) => isObj(w) && typeof w.wagon_no === "string"))) return "data.wagons must be wagons";
  for (const a of [ev.data.assay]) if (a !== undefined && !isObj(a)) return "data.assay must be an object";
  return null;
}

async function event(i, entry, trust, blockMap, cp) {
  const where = `events[${i}]`;
  if (!sameSet(entry, ["kind", "leaf_index", "height", "event", "inclusion_proof"])) {
    throw new Invalid("format", "an event entry is an object with exactly ['event', 'height', 'inclusion_proof', 'kind', 'leaf_index']", where);
  }
  const ev = entry.event;
  if (!isObj(ev)) throw new Invalid("format", "'event' must be the signed CloudEvent object", where);
  const name = eventName(ev.type), spec = RECEIPT_TYPES[name];
  if (!KINDS.includes(entry.kind) || !spec) throw new Invalid("format", `kind '${entry.kind}' / type '${ev.type}' is not part of a receipt`, where);
  if (!isIndex(entry.leaf_index) || !isIndex(entry.height)) throw new Invalid("format", "'leaf_index' and 'height' must be non-negative integers", where);
  const proof = entry.inclusion_proof;
  if (!Array.isArray(proof) || !proof.every((p) => typeof p === "string" && HEX64.test(p))) {
    throw new Invalid("format", "'inclusion_proof' must be a list of 64 lower-case hex characters", where);
  }
  const label = `${name} ${ev.id} (leaf ${entry.leaf_index})`;
  const publisher = String(ev.source ?? "").replace(/^\/participants\//, "");
  const p = trust.participants.get(publisher);
  if (!p) throw new Invalid("signer", `${label}: publisher '${ev.source}' is not a participant of the trust file`, where);
  const kid = String(ev.sigkeyid ?? "");
  if (!p.keys.has(kid)) throw new Invalid("signer", `${label}: signed with key '${kid}', which is not a key of ${p.id} in the trust file`, where);
  const sig = typeof ev.signature === "string" && ev.signature.length === 88 ? b64decode(ev.signature) : null;
  const unsigned = Object.fromEntries(Object.entries(ev).filter(([k]) => k !== "signature" && k !== "sigkeyid"));
  const signing = concat(enc.encode(EVENT_TAG), enc.encode(jcs(unsigned)));
  if (!sig || !(await ed25519Verify(p.keys.get(kid), sig, signing))) {
    throw new Invalid("signature", `${label}: the publisher signature of ${p.id} does not verify — the event was changed after signing`, where);
  }
  const leaf = await sha256(concat([0], enc.encode(jcs(ev))));
  const root = await rootFromInclusionProof(leaf, entry.leaf_index, cp.treeSize, proof.map(unhex));
  if (!root || !eq(root, cp.root)) {
    throw new Invalid("inclusion", `${label}: the inclusion proof does not lead to the checkpoint root at tree size ${cp.treeSize} (event, leaf index or proof changed)`, where);
  }
  const block = blockMap.get(entry.height);
  if (!block) throw new Invalid("inclusion", `${label}: names block ${entry.height}, whose header is not in the bundle`, where);
  if (!(block.first_leaf_index <= entry.leaf_index && entry.leaf_index < block.tree_size)) {
    throw new Invalid("inclusion", `${label}: block ${block.height} holds leaves ${block.first_leaf_index}..${block.tree_size - 1}, not ${entry.leaf_index}`, where);
  }
  const bad = shape(ev, spec.kind);
  if (bad) throw new Invalid("format", `${label}: not a valid ${name}: ${bad}`, where);
  if (entry.kind !== spec.kind) throw new Invalid("format", `${label}: kind '${entry.kind}' but a ${name} is a '${spec.kind}'`, where);
  if (!spec.roles.some((r) => p.roles.has(r))) throw new Invalid("signer", `${label}: signed by ${p.id}; a ${name} must come from one of [${spec.roles}]`, where);
  if (!p.roles.has("admin")) {
    const value = ev.data[spec.owner];
    const owns = spec.ownerKind === "mine" ? p.mines.has(value) : spec.ownerKind === "station" ? p.stations.has(value) : value === p.id;
    if (!owns) throw new Invalid("signer", `${label}: ${p.id} may not publish a ${name} for ${spec.owner}='${value}'`, where);
  }
  return { kind: spec.kind, name, leaf: entry.leaf_index, height: entry.height, ev, data: ev.data, participant: p.id, keyId: kid };
}

function shipmentOf(id, events) {
  const of = (k) => events.filter((e) => e.kind === k);
  const s = { id, order: of("order")[0], loading: of("loading")[0], unloading: of("unloading")[0],
              assay: of("assay").at(-1), receipt: of("receipt")[0], trucks: of("truck") };
  s.transport = s.loading || s.unloading ? "rail" : "truck";
  s.buyer = [s.order, s.loading].map((e) => e && e.data.buyer_id).find((b) => b) ?? null;
  s.lot = s.loading && s.loading.data.lot_id ? s.loading.data.lot_id : null;
  s.loadedKg = s.loading ? s.loading.data.total_net_weight_kg : null;
  s.unloadedKg = s.unloading ? s.unloading.data.total_net_weight_kg
    : s.transport === "truck" && s.trucks.length ? s.trucks.reduce((n, t) => n + t.data.net_weight_kg, 0) : null;
  s.acceptedKg = s.receipt ? s.receipt.data.accepted_net_weight_kg : null;
  s.onRecord = s.assay && isObj(s.assay.data.assay) ? s.assay.data.assay : s.loading && isObj(s.loading.data.assay) ? s.loading.data.assay : null;
  s.received = s.receipt && isObj(s.receipt.data.assay) ? s.receipt.data.assay : null;
  return s;
}

function consistency(s, events) {
  const leaves = events.map((e) => e.leaf);
  if (!leaves.every((l, k) => k === 0 || l > leaves[k - 1])) throw new Invalid("format", "events must be in strictly increasing leaf index order", "events");
  for (const k of SINGLE_KINDS) if (events.filter((e) => e.kind === k).length > 1) throw new Invalid("consistency", `more than one '${k}' event in the bundle`);
  const r = s.receipt;
  if (!r) throw new Invalid("consistency", "the bundle holds no DeliveryConfirmed or DeliveryDisputed");
  if (r.data.shipment_id !== s.id || r.ev.subject !== s.id) throw new Invalid("consistency", `the receipt is for shipment '${r.data.shipment_id}', the bundle for '${s.id}'`);
  const same = (e, field, expected, required) => {
    const v = e.data[field];
    if (((v === undefined || v === null) && !required) || v === expected) return;
    throw new Invalid("consistency", `${e.name} ${e.ev.id} (leaf ${e.leaf}) has ${field}=${JSON.stringify(v)}; the receipt says ${JSON.stringify(expected)}`);
  };
  for (const e of events) {
    same(e, "shipment_id", s.id, ["loading", "unloading", "truck"].includes(e.kind));
    same(e, "order_id", r.data.order_id, ["order", "loading", "unloading"].includes(e.kind));
  }
  if (s.assay && s.assay.data.lot_id !== s.lot) throw new Invalid("consistency", `the lot assay is for lot '${s.assay.data.lot_id}', the shipment carried lot '${s.lot}'`);
  if (s.transport === "rail" && (!s.loading || !s.unloading)) throw new Invalid("consistency", `rail shipment ${s.id}: the bundle must hold its WagonsLoaded and its WagonsUnloaded`);
  if (s.transport === "rail" && s.trucks.length) {
    throw new Invalid("consistency", `rail shipment ${s.id}: a rail bundle holds no weigh ticket, but it holds ${s.trucks.map((t) => t.data.ticket_no)}`);
  }
  if (s.transport === "truck" && !s.trucks.length) throw new Invalid("consistency", `shipment ${s.id}: the bundle holds no WagonsLoaded, WagonsUnloaded or weigh ticket: nothing says what was delivered`);
  for (const t of s.trucks) {
    if (t.data.direction !== "outbound") throw new Invalid("consistency", `weigh ticket ${t.data.ticket_no} (leaf ${t.leaf}) is ${t.data.direction}; a receipt holds outbound tickets only (the delivery)`);
  }
}

function buyer(s) {
  const r = s.receipt;
  if (!s.buyer) throw new Invalid("buyer", "the bundle names no buyer: it holds neither the order (DemandPosted) nor the WagonsLoaded");
  if (r.participant !== s.buyer || r.data.buyer_id !== s.buyer) {
    throw new Invalid("buyer", `the ${r.name} is signed by ${r.participant} for buyer '${r.data.buyer_id}'; the buyer of the order is ${s.buyer}`);
  }
}

function deepEqual(a, b) {
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, k) => deepEqual(x, b[k]));
  if (isObj(a) || isObj(b)) {
    if (!isObj(a) || !isObj(b)) return false;
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return a === b;
}

function keyIds(blockEntries, events) {
  const participants = {};
  for (const e of events) (participants[e.participant] ??= new Set()).add(e.keyId);
  const sorted = Object.keys(participants).sort();
  return {
    sequencer: [...new Set(blockEntries.flatMap((b) => b.signatures.map((s) => String(s.key_id))))].sort(),
    participants: Object.fromEntries(sorted.map((p) => [p, [...participants[p]].sort()])),
  };
}

// --- §6 discrepancy marks (integers only; BigInt so no figure can round) --------------------------------

const hundredths = (text) => Number(text.slice(0, -3)) * 100 + Number(text.slice(-2));
const fmt = (v) => `${Math.floor(v / 100)}.${String(v % 100).padStart(2, "0")}`;
const isPct = (name) => name.endsWith("_pct");

function tolerances(doc) {
  const bad = (m) => new Invalid("format", m, "tolerances");
  if (!sameSet(doc, ["weight_pct", "assay"])) throw bad("tolerances must be an object with exactly 'weight_pct' and 'assay'");
  if (!isObj(doc.assay)) throw bad("tolerances.assay must be an object");
  const pct = (v, n) => {
    if (typeof v !== "string" || !/^[0-9]+\.[0-9]{2}$/.test(v)) throw bad(`tolerance ${n} must be a two-decimal string like '1.00'`);
    return hundredths(v);
  };
  const assay = {};
  for (const [k, v] of Object.entries(doc.assay)) {
    if (isPct(k)) assay[k] = pct(v, k);
    else if (Number.isSafeInteger(v) && v >= 0) assay[k] = v;
    else throw bad(`tolerance ${k} must be a non-negative integer`);
  }
  return { weightBp: pct(doc.weight_pct, "weight_pct"), assay };
}

function weightMark(what, ref, actual, bp) {
  if (ref === null || actual === null || ref <= 0) return [];
  const r = BigInt(ref), a = BigInt(actual), d = a > r ? a - r : r - a;
  if (!(d * 10000n > BigInt(bp) * r)) return [];
  const diffBp = Number((d * 10000n * 2n + r) / (2n * r));
  return [{ kind: "weight", what, reference_kg: ref, actual_kg: actual, difference_kg: actual - ref,
            difference_pct: (a < r ? "-" : "") + fmt(diffBp), tolerance_pct: fmt(bp) }];
}

export function discrepancies(s, tol) {
  const marks = weightMark("unloaded_vs_loaded", s.loadedKg, s.unloadedKg, tol.weightBp);
  marks.push(...(s.unloadedKg !== null ? weightMark("accepted_vs_unloaded", s.unloadedKg, s.acceptedKg, tol.weightBp)
    : weightMark("accepted_vs_loaded", s.loadedKg, s.acceptedKg, tol.weightBp)));
  if (s.loading && s.unloading) {
    const nos = (d) => new Set((d.wagons || []).filter(isObj).map((w) => String(w.wagon_no)));
    const loaded = nos(s.loading.data), unloaded = nos(s.unloading.data);
    const missing = [...loaded].filter((w) => !unloaded.has(w)).sort(), extra = [...unloaded].filter((w) => !loaded.has(w)).sort();
    if (missing.length || extra.length) marks.push({ kind: "wagons", what: "unloaded_vs_loaded", missing_at_unloading: missing, not_loaded: extra });
  }
  if (s.onRecord && s.received) {
    const value = (a, n) => (isPct(n) ? (typeof a[n] === "string" ? hundredths(a[n]) : null) : Number.isSafeInteger(a[n]) ? a[n] : null);
    for (const n of Object.keys(tol.assay).sort()) {
      const ref = value(s.onRecord, n), got = value(s.received, n);
      if (ref === null || got === null || Math.abs(got - ref) <= tol.assay[n]) continue;
      const show = isPct(n) ? fmt : String;
      marks.push({ kind: "quality", what: n, on_record: s.onRecord[n], received: s.received[n],
                   difference: (got < ref ? "-" : "") + show(Math.abs(got - ref)), tolerance: show(tol.assay[n]) });
    }
  }
  return marks;
}

// --- entry point -----------------------------------------------------------------------------------------

export async function verifyBundle(bundleInput, trustInput, { witnessQuorum = 0 } = {}) {
  try {
    let doc;
    try {
      doc = typeof bundleInput === "object" && !(bundleInput instanceof Uint8Array) ? bundleInput : parseStrictJSON(bundleInput);
    } catch (e) {
      throw new Invalid("format", `not I-JSON: ${e.message}`);
    }
    const trust = trustInput && trustInput.participants instanceof Map ? trustInput : await loadTrust(trustInput);
    structure(doc);
    if (doc.ledger_id !== trust.ledgerId) throw new Invalid("ledger", `bundle is for ledger '${doc.ledger_id}'; the trust file is for '${trust.ledgerId}'`, "ledger_id");
    const cp = await checkpoint(doc, trust, witnessQuorum);
    const blockMap = await blocks(doc.blocks, trust);
    const anchored = anchor(blockMap, doc.tree_size, cp);
    const events = [];
    for (const [i, entry] of doc.events.entries()) events.push(await event(i, entry, trust, blockMap, cp));
    const s = shipmentOf(doc.shipment_id, events);
    consistency(s, events);
    buyer(s);
    const ids = keyIds(doc.blocks, events);
    if (!deepEqual(doc.key_ids, ids)) throw new Invalid("key_ids", `key_ids ${JSON.stringify(doc.key_ids)} do not match the keys that signed: ${JSON.stringify(ids)}`, "key_ids");
    const tol = tolerances(doc.tolerances);
    const marks = discrepancies(s, tol);
    if (!deepEqual(doc.discrepancies, marks)) {
      throw new Invalid("discrepancies", `the bundle marks ${JSON.stringify(doc.discrepancies)} but the signed figures give ${JSON.stringify(marks)} under its own tolerances`, "discrepancies");
    }
    return {
      ok: true,
      summary: {
        ledger_id: trust.ledgerId, tree_size: doc.tree_size, anchor_height: anchored.height, sealed_at: anchored.sealed_at,
        root: hex(cp.root), witnesses: cp.witnesses, shipment_id: s.id, transport: s.transport, order_id: s.receipt.data.order_id,
        buyer: s.buyer, decision: s.receipt.name === "DeliveryConfirmed" ? "confirmed" : "disputed",
        reason_code: s.receipt.data.reason_code ?? null, loaded_kg: s.loadedKg, unloaded_kg: s.unloadedKg,
        accepted_kg: s.acceptedKg, weigh_tickets: s.trucks.map((t) => t.data.ticket_no), discrepancies: marks,
        events: events.map((e) => ({ kind: e.kind, name: e.name, id: e.ev.id, participant: e.participant, leaf_index: e.leaf, height: e.height })),
      },
    };
  } catch (e) {
    if (e instanceof Invalid) return { ok: false, check: e.check, where: e.where, reason: e.reason, message: e.message };
    return { ok: false, check: "format", where: "", reason: String(e && e.message ? e.message : e), message: String(e) };
  }
}

// --- building and signing a receipt event in the page (ledger-format §4) --------------------------------

export async function signEvent(envelope, privateKey, keyIdHex) {
  const unsigned = Object.fromEntries(Object.entries(envelope).filter(([k]) => k !== "signature" && k !== "sigkeyid"));
  const bytes = concat(enc.encode(EVENT_TAG), enc.encode(jcs(unsigned)));
  const sig = new Uint8Array(await subtle.sign({ name: "Ed25519" }, privateKey, bytes));
  return { ...unsigned, sigkeyid: keyIdHex, signature: b64encode(sig) };
}
