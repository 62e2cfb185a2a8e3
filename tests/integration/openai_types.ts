// openai_types.ts: the types answers of POST /v1/moderations are checked
// against under `tsc --strict` (test_openai_client.py appends the answers
// it captured).  The API's own types come from the `openai` package; the
// one field modgate adds to a result, "modgate", is typed here: the
// protocol v1 answer for that input (modgated(8)).
import type {
	Moderation,
	ModerationCreateResponse,
} from "openai/resources/moderations";
import type { ErrorObject } from "openai/resources/shared";

type Verdict = "allow" | "block" | "rewrite";
type StageState = "not_run" | "skipped" | "passthrough" | "ok" | "failed";

interface ModgateMatch {
	rule: string;
	category: string;
	action: "block" | "rewrite" | "flag";
	start: number;
	end: number;
	monitor?: true;
}

interface ModgateAnswer {
	id: string | number | boolean | null;
	verdict: Verdict;
	text?: string;
	message?: string;
	policy: string;
	monitor?: true;
	would_verdict?: Verdict;
	policy_version: string;
	audit_seq: number | null;
	matches: ModgateMatch[];
	scores: { [label: string]: number };
	flagged: string[];
	elapsed_us: number;
	degraded?: true;
	stages: {
		normalize: StageState;
		rules: StageState;
		classifier: StageState;
		policy: StageState;
		audit: StageState;
	};
}

interface ModgateModeration extends Moderation {
	modgate: ModgateAnswer;
}

interface ModgateResponse extends ModerationCreateResponse {
	results: ModgateModeration[];
}

// An error body as the API sends it: {"error": {...}} and nothing else.
interface ErrorBody {
	error: ErrorObject;
}

// What the client's types promise holds for every modgate answer.
function asTheClientSeesIt(r: ModgateResponse): ModerationCreateResponse {
	return r;
}
