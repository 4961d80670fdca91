// Run the page's JavaScript verifier under Node: stdin = JSON {"trust": <text>, "bundles": [<text>, ...],
// "witness_quorum": k}; stdout = JSON list of results ({ok, check, where, reason, summary}).
import { verifyBundle, loadTrust } from "../../../services/api/static/receipt-verify.js";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const job = JSON.parse(input);
const trust = await loadTrust(job.trust);
const out = [];
for (const text of job.bundles) out.push(await verifyBundle(text, trust, { witnessQuorum: job.witness_quorum || 0 }));
process.stdout.write(JSON.stringify(out));
