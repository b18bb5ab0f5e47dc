import { describe, expect, it } from "vitest";
import { LocalHashEmbedder } from "../../src/adapters/embed/local";
import { ExtractiveGenerator, selectSentences } from "../../src/adapters/generate/extractive";
import { answerKind, hasKind, judgeEvidence, queryWeights } from "../../src/lib/evidence";
import { sentences } from "../../src/lib/sentences";
import { indexText, queryTerms, tokens, wordStems } from "../../src/lib/terms";

/** A handbook as PDF text extraction gives it: headings on their own lines, lines wrapped. */
const HANDBOOK = [
  "Employee Handbook",
  "Leave",
  "Every employee receives 20 days of paid leave per year. Unused leave days",
  "carry over until the end of March.",
  "Parental leave is described in a separate policy.",
  "Equipment",
  "Laptops are issued on the first day and returned when you leave.",
  "- Meal expenses up to 25 EUR per day are reimbursed.",
  "| Grade | Salary |",
  "| A | 4,000 |",
  "Salaries are paid on the last working day of the month.",
].join("\n");

const generate = async (query: string, text: string, maxSentences = 1) => {
  let out = "";
  for await (const delta of new ExtractiveGenerator().generate({
    query,
    sources: [{ n: 1, title: "Handbook", text }],
    maxTokens: 200,
    maxSentences,
  })) {
    out += delta;
  }
  return out;
};

describe("CJK tokenization", () => {
  it("splits Korean, Chinese and Japanese runs into character bigrams, other scripts into words", () => {
    expect(tokens("휴가는 15일")).toEqual(["휴가", "가는", "15", "일"]);
    expect(tokens("東京都に住む")).toEqual(["東京", "京都", "都に", "に住", "住む"]);
    expect(tokens("Vacation days, 휴가")).toEqual(["vacation", "days", "휴가"]);
    expect(indexText("연차 휴가는 Paid").split(/\s+/).filter(Boolean)).toEqual(["연차", "휴가", "가는", "Paid"]);
    expect(indexText("No CJK here")).toBe("No CJK here");
  });

  it("lets a Korean stem match its inflected forms, and leaves interrogatives out of the query", () => {
    // Today's tokenizer kept "휴가는" whole, so "휴가" never matched it.
    expect(queryTerms("휴가는 며칠인가?")).toEqual(["휴가", "가는"]);
    // Interrogatives carry no content, in every register: 며칠, 무슨, spoken 뭐/뭘/뭔, and 누가 whole.
    expect(queryTerms("무슨 요일에 누가 뭘 샀나요?")).toEqual(["요일", "일에", "샀나", "나요"]);
    expect(queryTerms("누가복음의 저자는?")).toEqual(["누가", "가복", "복음", "음의", "저자", "자는"]);
    // Nor do "how many" / "how much" and Korean function words such as the superlative 가장.
    expect(queryTerms("How many keys does a standard piano have?")).toEqual(["keys", "standard", "piano"]);
    expect(queryTerms("How much is too many?")).toEqual(["many"]);
    expect(queryTerms("아시아에서 가장 긴 강은 무엇인가?")).toEqual(["아시", "시아", "아에", "에서", "긴", "강은"]);
    expect(queryTerms("케냐의 수도는 어디인가?")).toEqual(["케냐", "냐의", "수도", "도는"]);
    expect(queryTerms("What is the capital of Kenya?")).toEqual(["capital", "kenya"]);
    expect(wordStems("휴가는")).toContain("휴가");
  });

  it("embeds Korean text so that inflected forms share features", async () => {
    const embedder = new LocalHashEmbedder(256);
    const [doc, query, other] = await embedder.embed(
      ["연차 휴가는 매년 15일이다", "휴가 며칠", "노트북 보관 규정"],
      "document",
    );
    const dot = (a?: Float32Array, b?: Float32Array) => {
      let sum = 0;
      a?.forEach((x, i) => {
        sum += x * (b?.[i] ?? 0);
      });
      return sum;
    };
    expect(dot(doc, query)).toBeGreaterThan(0.1);
    expect(dot(doc, query)).toBeGreaterThan(dot(other, query));
  });
});

describe("sentences", () => {
  it("keeps headings and table rows apart from sentences, and list items without their markers", () => {
    const out = sentences(HANDBOOK);
    expect(out).toContain("Every employee receives 20 days of paid leave per year.");
    expect(out).toContain("Unused leave days carry over until the end of March.");
    expect(out).toContain("Meal expenses up to 25 EUR per day are reimbursed.");
    expect(out.some((s) => s.startsWith("Leave") || s.includes("Employee Handbook"))).toBe(false);
    expect(out.some((s) => s.includes("|"))).toBe(false);
  });

  it("ends Korean and Japanese sentences, which have no capital letter after them", () => {
    expect(sentences("휴가는 15일이다. 급여는 매월 지급된다.")).toEqual(["휴가는 15일이다.", "급여는 매월 지급된다."]);
    expect(sentences("東京に住む。大阪で働く。")).toEqual(["東京に住む。", "大阪で働く。"]);
    // Abbreviations followed by lower case stay together.
    expect(sentences("Use a tool, e.g. the one provided. Then stop.")).toEqual([
      "Use a tool, e.g. the one provided.",
      "Then stop.",
    ]);
  });
});

describe("the extractive generator", () => {
  it("says the one sentence that answers, not every sentence that shares a word", async () => {
    const answer = await generate("How many days of leave?", HANDBOOK);
    expect(answer).toBe("Every employee receives 20 days of paid leave per year. [1]");
    expect(await generate("When are salaries paid?", HANDBOOK)).toBe(
      "Salaries are paid on the last working day of the month. [1]",
    );
  });

  it("adds a further sentence only where it scores close to the best, up to the mode's cap", async () => {
    const one = selectSentences({
      query: "How many days of leave?",
      sources: [{ n: 1, title: "Handbook", text: HANDBOOK }],
      maxTokens: 200,
      maxSentences: 3,
      followRatio: 0.7,
    });
    expect(one[0]?.text).toBe("Every employee receives 20 days of paid leave per year.");
    expect(one.length).toBeLessThanOrEqual(3);
    // Nothing that shares only one of its words rides along.
    expect(one.map((s) => s.text).join(" ")).not.toMatch(/Parental|Salaries|Meal/);
  });

  it("weighs the question's words by the collection's statistics", () => {
    const rare = queryWeights("vacation policy", { chunks: 100, df: { vacation: 1, policy: 90 } });
    expect(rare.weights.get("vacat") ?? 0).toBeGreaterThan(rare.weights.get("polici") ?? 0);
    expect(queryWeights("vacation policy").total).toBe(2);
  });

  it("knows what kind of value a question asks for", () => {
    expect(answerKind("When was the Duchy founded?")).toBe("date");
    expect(answerKind("How many days of leave?")).toBe("number");
    expect(answerKind("Who commissioned the tapestry?")).toBe("entity");
    expect(answerKind("연차 휴가는 며칠인가?")).toBe("number");
    expect(answerKind("설립된 연도는?")).toBe("date");
    expect(hasKind("It began in 911 as a fiefdom.", "date", "When was it founded?")).toBe(true);
    expect(hasKind("It began as a fiefdom.", "date", "When was it founded?")).toBe(false);
    expect(hasKind("In 1066 the duke crossed.", "number", "What happened in 1066?")).toBe(false);
    expect(hasKind("It was commissioned by Odo.", "entity", "Who commissioned it?")).toBe(true);
  });
});

describe("the abstention rule", () => {
  const passages = [{ title: "Handbook", text: HANDBOOK }];
  const stats = { chunks: 50, df: { leave: 5, days: 8, capital: 1, kenya: 0, wrote: 0, war: 0, peace: 0 } };

  it("answers when a sentence holds the question's words together", () => {
    expect(judgeEvidence("How many days of leave?", stats, passages).answers).toBe(true);
  });

  it("answers a Korean question whose only unmatched word is its interrogative", () => {
    const korean = [{ title: "휴가 규정", text: '# 연차\n\n직원은 매년 "스물다섯" 일의 유급 휴가를 받는다.' }];
    // 며칠 ("how many days") is asked, never written: it must not count as a missing word.
    expect(judgeEvidence("휴가는 며칠인가요?", { chunks: 50, df: { 휴가: 3 } }, korean).answers).toBe(true);
  });

  it("abstains when nothing, or only one shared word, supports the question", () => {
    expect(judgeEvidence("Who wrote War and Peace?", stats, passages)).toMatchObject({ answers: false, coverage: 0 });
    // "leave" is there; the rest of the question is not.
    const one = judgeEvidence("Why do birds leave Kenya in winter?", stats, passages);
    expect(one.sentenceWords).toBeLessThanOrEqual(1);
    expect(one.answers).toBe(false);
    expect(judgeEvidence("How many days of leave?", stats, []).answers).toBe(false);
    // "how many" shares "many" with any passage that says many: not a second word of evidence.
    const many = [{ title: "Normans", text: "Many Normans served as crusaders. Hearts were won." }];
    expect(judgeEvidence("How many hearts does an octopus have?", undefined, many).answers).toBe(false);
  });
});
