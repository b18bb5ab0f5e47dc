import { describe, expect, it } from "vitest";
import { leansOnPrevious, rewriteFollowUp } from "../../src/lib/rewrite";

const history = [
  { role: "user" as const, content: "How many days of paid vacation do employees get?" },
  { role: "assistant" as const, content: "Employees receive twenty five days of paid vacation every year. [1]" },
];

describe("follow-up rewrite", () => {
  it("carries the previous question's words when the follow-up refers back, continues or is short", () => {
    expect(rewriteFollowUp("How many of those carry over?", history)).toBe(
      "How many of those carry over? (days paid vacation employees get)",
    );
    expect(rewriteFollowUp("And for contractors?", history)).toMatch(
      /^And for contractors\? \(days paid vacation employees get\)$/,
    );
    expect(rewriteFollowUp("What about sick leave?", history)).toMatch(/\(days paid vacation employees get\)$/);
    expect(rewriteFollowUp("Carry over?", history)).toMatch(/\(days paid vacation employees get\)$/);
  });

  it("leaves a question that stands alone, or has nothing before it, as it is", () => {
    expect(rewriteFollowUp("What is the laptop policy for new engineers?", history)).toBe(
      "What is the laptop policy for new engineers?",
    );
    expect(rewriteFollowUp("How many of those carry over?", [])).toBe("How many of those carry over?");
  });

  it("carries the names the last answer gave (who 'he' is)", () => {
    const who = [
      { role: "user" as const, content: "Who led the Normans into Italy?" },
      { role: "assistant" as const, content: "The Normans were led into Italy by Robert Guiscard. [1]" },
    ];
    expect(rewriteFollowUp("When did he die?", who)).toBe("When did he die? (led Normans Italy Robert Guiscard)");
  });

  it("reads Korean, Japanese and Chinese references", () => {
    const ko = [{ role: "user" as const, content: "유급 휴가는 며칠인가요?" }];
    expect(leansOnPrevious("그럼 그중 며칠을 이월할 수 있나요?")).toBe(true);
    expect(rewriteFollowUp("그럼 그중 며칠을 이월할 수 있나요?", ko)).toBe(
      "그럼 그중 며칠을 이월할 수 있나요? (유급 휴가는)",
    );
    expect(leansOnPrevious("それはいつですか")).toBe(true);
    expect(leansOnPrevious("它是什么时候建的")).toBe(true);
    expect(leansOnPrevious("직원은 매년 며칠의 유급 휴가를 받나요?")).toBe(false);
  });
});
