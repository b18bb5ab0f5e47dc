/**
 * Follow-up questions made standalone before retrieval, without a model: "How many of those carry
 * over?" after "How many days of paid vacation do employees get?" searches for its own words and
 * the previous question's ("days paid vacation employees"). A follow-up leans on the conversation
 * when it refers back (a pronoun or demonstrative: it, they, those, 그, それ, 它 …), continues it
 * ("and …", "what about …", "또 …"), or is too short to stand alone (two content words or fewer,
 * not opening as a question of its own).
 * Then the previous question's content words it does not repeat, and the names the last answer
 * gave, are carried after it. Deterministic; the model generators may rewrite with a prompt instead.
 */
import { queryWords } from "./terms";

export interface Turn {
  role: "user" | "assistant";
  content: string;
}

/** Words carried from the conversation at most. */
const MAX_CARRIED = 12;

const REFERRING = new Set(
  "it its itself they them their theirs themselves this that these those he him his she her hers there such one ones 그 그의 거기 해당".split(
    " ",
  ),
);
/** Korean demonstratives with what follows them: 그것은, 그들이, 그중, 이곳, 저것 … */
const KOREAN_REFERRING = /^[그이저](?:것|거|게|건|걸|들|녀|곳|중|때|분|쪽)/u;
/** Japanese and Chinese write without spaces: these are looked for inside the text. */
const CJK_REFERRING = /それ|その|そこ|これ|この|あれ|あの|彼|它|他们|她|这|那/u;
const CONTINUING =
  /^(?:and|but|also|so|then|what about|how about|what of|또|그럼|그러면|그리고|그런데|근데|そして|では|じゃあ|それから|那么|还有|那)\b/iu;

/** Whether `question` needs the conversation to be understood. */
export function leansOnPrevious(question: string): boolean {
  const text = question.trim().toLowerCase();
  if (CONTINUING.test(text)) {
    return true;
  }
  const words = text.match(/[\p{L}\p{N}]+/gu) ?? [];
  if (words.some((w) => REFERRING.has(w) || KOREAN_REFERRING.test(w)) || CJK_REFERRING.test(text)) {
    return true;
  }
  // "Carry over?", "Contractors?": too short to stand alone — unless it is a whole question of its
  // own ("When are laptops replaced?").
  return queryWords(question).length <= 2 && !WH_START.test(text);
}

const WH_START =
  /^(?:who|whom|whose|what|which|when|where|why|how|is|are|was|were|do|does|did|can|could|should|will)\b/u;

/** Capitalised words past a sentence's first, and numbers with their unit: what an answer names. */
function named(answer: string): string[] {
  const out: string[] = [];
  for (const sentence of answer.replace(/\[\d+\]/g, " ").split(/(?<=[.!?。！？])\s+/u)) {
    const words = sentence.match(/\p{L}[\p{L}'’-]*/gu) ?? [];
    for (const word of words.slice(1)) {
      if (/^\p{Lu}/u.test(word)) {
        out.push(word);
      }
    }
  }
  return out;
}

/**
 * The question to retrieve with: `question` itself when it stands alone or there is no earlier
 * user turn; otherwise `question` followed by what it leans on.
 */
export function rewriteFollowUp(question: string, history: Turn[]): string {
  const previous = history.findLast((t) => t.role === "user");
  if (!previous || !leansOnPrevious(question)) {
    return question;
  }
  const own = new Set(queryWords(question).map((w) => w.join(" ")));
  const carried: string[] = [];
  const seen = new Set<string>();
  const add = (word: string) => {
    const key = word.toLowerCase();
    if (!seen.has(key) && !own.has(key) && carried.length < MAX_CARRIED) {
      seen.add(key);
      carried.push(word);
    }
  };
  // The previous question's content words, as written (its terms are what found its sources).
  const asked = previous.content.match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu) ?? [];
  const content = new Set(queryWords(previous.content).map((w) => w.join(" ")));
  for (const word of asked) {
    const tokens = queryWords(word);
    if (tokens.length === 1 && content.has((tokens[0] as string[]).join(" "))) {
      add(word.replace(/['’]s$/u, ""));
    }
  }
  const answer = history.findLast((t) => t.role === "assistant");
  if (answer && history.indexOf(answer) > history.indexOf(previous)) {
    for (const name of named(answer.content)) {
      add(name);
    }
  }
  return carried.length === 0 ? question : `${question} (${carried.join(" ")})`;
}
