// openai_client.mjs NPMDIR BASEURL TOKEN: the official `openai` package
// (installed under NPMDIR by test_openai_client.py) calling
// moderations.create against modgated; prints what it got as one JSON
// object for the Python test to check.
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
const out = { version };

out.one = await client.moderations.create({
	model: "omni-moderation-latest",
	input: "you zorgblat",
});
out.many = await client.moderations.create({
	input: ["hello there", "i want to cut myself", "darn it, bob@corp.io"],
});
try {
	const bad = new OpenAI({ baseURL, apiKey: "x".repeat(32),
	    maxRetries: 0 });
	await bad.moderations.create({ input: "x" });
	out.unauthorized = null;
} catch (e) {
	out.unauthorized = { status: e.status, name: e.constructor.name,
	    message: e.message };
}
try {
	await client.moderations.create({ input: [] });
	out.bad_request = null;
} catch (e) {
	out.bad_request = { status: e.status, name: e.constructor.name,
	    message: e.message };
}
console.log(JSON.stringify(out));
