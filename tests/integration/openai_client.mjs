// openai_client.mjs NPMDIR BASEURL TOKEN: the official `openai` package
// (installed under NPMDIR by test_openai_client.py) calling
// moderations.create against modgated; prints what it got as one JSON
// object for the Python test to check: the answers as the client returned
// them, and for each refused call the client's error (its class, status,
// type, code, param, and the body's "error" object).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const [npmdir, baseURL, apiKey] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(npmdir), "x.js"));
const mod = require("openai");
const OpenAI = mod.OpenAI ?? mod.default ?? mod;
const version = JSON.parse(readFileSync(path.join(npmdir, "node_modules",
    "openai", "package.json"), "utf8")).version;

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });
const out = { version, errors: {} };

out.one = await client.moderations.create({
	model: "omni-moderation-latest",
	input: "you zorgblat",
});
out.many = await client.moderations.create({
	input: ["hello there", "i want to cut myself", "darn it, bob@corp.io"],
});
out.parts = await client.moderations.create({
	model: "omni-moderation-latest",
	input: [
		{ type: "text", text: "look at this" },
		{ type: "image_url", image_url: { url: "https://example.com/a.png" } },
		{ type: "text", text: "darn it" },
	],
});

async function refused(name, c, body) {
	try {
		await c.moderations.create(body);
		out.errors[name] = null;
	} catch (e) {
		out.errors[name] = { status: e.status, name: e.constructor.name,
		    message: e.message, type: e.type, code: e.code,
		    param: e.param, error: e.error };
	}
}

await refused("unauthorized", new OpenAI({ baseURL, apiKey: "x".repeat(32),
    maxRetries: 0 }), { input: "x" });
await refused("empty", client, { input: [] });
await refused("image_only", client, { input: [{ type: "image_url",
    image_url: { url: "https://example.com/a.png" } }] });
await refused("unknown_policy", client, { input: "x", policy: "nope" });
// Over http.max_body_bytes (1 MiB by default): the 413 is an error object.
await refused("too_large", client, { input: "a".repeat(2 << 20) });
console.log(JSON.stringify(out));
