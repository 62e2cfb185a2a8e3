// openai_chat.mjs NPMDIR BASEURL TOKEN: the official `openai` package
// (installed under NPMDIR by test_openai_client.py) calling
// chat.completions.create against modgated's proxy; prints what it got as
// one JSON object for test_proxy.py to check: the completions as the
// client returned them, and for each refused call the client's error (its
// class, status, code, param and message).
import { createRequire } from "node:module";
import path from "node:path";

const [npmdir, baseURL, apiKey] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(npmdir), "x.js"));
const mod = require("openai");
const OpenAI = mod.OpenAI ?? mod.default ?? mod;

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });
const out = { errors: {} };
const messages = [{ role: "user", content: "hi" }];

out.clean = await client.chat.completions.create({ model: "clean", messages });
out.harmful = await client.chat.completions.create({ model: "harmful",
    messages });
// modgate's own field, as the client sends extra body fields.
out.rewrite = await client.chat.completions.create({ model: "rewrite",
    messages, policy: "default" });

async function refused(name, body) {
	try {
		await client.chat.completions.create(body);
		out.errors[name] = null;
	} catch (e) {
		out.errors[name] = { status: e.status, name: e.constructor.name,
		    code: e.code, param: e.param, message: e.message };
	}
}

await refused("stream", { model: "clean", messages, stream: true });
await refused("error500", { model: "error500", messages });
await refused("slow", { model: "slow", messages });
await refused("malformed", { model: "malformed", messages });
console.log(JSON.stringify(out));
