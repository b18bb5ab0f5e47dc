import fc from "fast-check";
import { strToU8, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { chunkText, estimateTokens } from "../../src/lib/chunk";
import { DocxError, docxToText } from "../../src/lib/docx";
import { decodeEntities, htmlTitle, htmlToText } from "../../src/lib/html";
import { PdfError, pdfToPages } from "../../src/lib/pdf";
import { scanText, sniff } from "../../src/lib/sniff";
import { ftsQuery, queryTerms } from "../../src/lib/terms";
import { languageOf } from "../../src/services/exports/templates";
import { makePdf } from "../support/pdf";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("scanText", () => {
  it("counts a text's length across its slices without holding it, a character split between two", () => {
    // 65,535 ASCII bytes put the three bytes of "휴" across the first 64 KiB slice's end.
    const text = `${"a".repeat(65_535)}휴가 ${"b".repeat(70_000)}`;
    expect(scanText(bytes(text))).toEqual({ kind: "text", length: text.length, blank: false });
    expect(scanText(bytes(" \n\t".repeat(30_000)))).toMatchObject({ blank: true });
  });

  it("finds bad UTF-8 and control characters wherever they are", () => {
    const late = bytes(`${"word ".repeat(20_000)}x`);
    expect(scanText(new Uint8Array([...late, 0xe1, 0x84]))).toEqual({ problem: "not_utf8" });
    expect(scanText(bytes(`${"word ".repeat(20_000)}\u0000`))).toEqual({ problem: "control_characters" });
  });

  it("decides the kind from the start of the text", () => {
    expect(scanText(bytes(`# Title\n\n${"Body text. ".repeat(10_000)}`))).toMatchObject({ kind: "markdown" });
  });
});

describe("sniff", () => {
  it("recognises PDF by magic bytes whatever follows", () => {
    expect(sniff(bytes("%PDF-1.7\n%âãÏÓ\n1 0 obj"))).toBe("pdf");
  });

  it("recognises DOCX by its ZIP parts, and refuses other ZIPs", () => {
    const zip = (names: string[]) => new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...bytes(names.join("\u0000"))]);
    expect(sniff(zip(["[Content_Types].xml", "word/document.xml"]))).toBe("docx");
    expect(sniff(zip(["[Content_Types].xml", "xl/workbook.xml"]))).toBeUndefined();
  });

  it("tells HTML, Markdown and plain text apart by content", () => {
    expect(sniff(bytes("<!DOCTYPE html><html><body><p>Hi</p></body></html>"))).toBe("html");
    expect(sniff(bytes("<div>a</div><p>b</p><ul><li>c</li></ul>"))).toBe("html");
    expect(sniff(bytes("# Title\n\nSome text."))).toBe("markdown");
    expect(sniff(bytes("Intro\n\n- one\n- two\n\nSee [docs](https://x.y)."))).toBe("markdown");
    expect(sniff(bytes("Just a plain note about 3 < 4 and a # sign."))).toBe("text");
  });

  it("refuses binary and invalid UTF-8", () => {
    expect(sniff(new Uint8Array([0xff, 0xfe, 0x00, 0x41]))).toBeUndefined();
    expect(sniff(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBeUndefined();
    expect(sniff(bytes("text with a NUL \u0000 byte"))).toBeUndefined();
  });
});

describe("htmlToText", () => {
  it("keeps headings as # lines and paragraphs, drops scripts, styles and comments", () => {
    const html = `<html><head><title>Guide &amp; FAQ</title><style>p{color:red}</style></head>
      <body><h1>Welcome</h1><p>First <b>para</b>.</p><script>alert("x")</script>
      <!-- hidden --><h2>Details</h2><ul><li>one</li><li>two</li></ul></body></html>`;
    expect(htmlToText(html)).toBe("# Welcome\n\nFirst para.\n\n## Details\n\none\n\ntwo");
    expect(htmlTitle(html)).toBe("Guide & FAQ");
  });

  it("decodes named and numeric entities as a browser does, and leaves unknown ones", () => {
    // A surrogate's reference is U+FFFD (HTML's "surrogate-character-reference" rule).
    expect(decodeEntities("&lt;a&gt; &#65;&#x42; &copy; &bogus; &#xD800;")).toBe("<a> AB © &bogus; \uFFFD");
    // Beyond the 17 names a hand-written table had: all of HTML5's.
    expect(decodeEntities("&hearts; &Alpha; &rarr; &euro;")).toBe("♥ Α → €");
  });
});

describe("chunkText", () => {
  const para = (n: number, words = 60) =>
    Array.from({ length: words }, (_, i) => `w${n}x${i}${i % 10 === 9 ? "." : ""}`).join(" ");

  it("keeps a short document in one chunk with its offsets", () => {
    const text = "Hello world.\n\nSecond paragraph.";
    const [only, ...rest] = chunkText(text);
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ ordinal: 0, text, heading: null, charStart: 0, charEnd: text.length });
  });

  it("never crosses a heading and records the heading path", () => {
    const text = `Preface.\n\n# Benefits\n\nAll staff.\n\n## Leave\n\n25 days.\n\n# Pay\n\nMonthly.`;
    const chunks = chunkText(text);
    expect(chunks.map((c) => [c.heading, c.text])).toEqual([
      [null, "Preface."],
      ["Benefits", "All staff."],
      ["Benefits › Leave", "25 days."],
      ["Pay", "Monthly."],
    ]);
  });

  it("stays within the budget and overlaps consecutive chunks of a section", () => {
    const text = Array.from({ length: 20 }, (_, i) => para(i)).join("\n\n");
    const chunks = chunkText(text, { maxTokens: 256, overlap: 0.15 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(256 * 4);
      expect(text.slice(chunk.charStart, chunk.charEnd)).toBe(chunk.text);
    }
    for (let i = 1; i < chunks.length; i++) {
      expect(chunks[i]?.charStart).toBeLessThan(chunks[i - 1]?.charEnd ?? 0);
    }
  });

  it("splits an over-long paragraph by sentences and an unbroken run by force", () => {
    const sentences = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} says something useful.`).join(" ");
    const chunks = chunkText(sentences, { maxTokens: 64, overlap: 0 });
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.text.length <= 256 && /\.$/.test(c.text))).toBe(true);
    const blob = "x".repeat(2_000);
    expect(chunkText(blob, { maxTokens: 64, overlap: 0 }).map((c) => c.text.length)).toEqual([
      256, 256, 256, 256, 256, 256, 256, 208,
    ]);
  });

  it("covers every non-blank character of any text, within budget, in order", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 3_000 }),
        fc.integer({ min: 16, max: 200 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        (text, maxTokens, overlap) => {
          const chunks = chunkText(text, { maxTokens, overlap });
          const budget = Math.max(64, maxTokens * 4);
          const covered = new Uint8Array(text.length);
          let lastStart = -1;
          for (const chunk of chunks) {
            expect(chunk.text.length).toBeLessThanOrEqual(budget);
            expect(text.slice(chunk.charStart, chunk.charEnd)).toBe(chunk.text);
            expect(chunk.charStart).toBeGreaterThan(lastStart);
            expect(chunk.tokenEstimate).toBe(estimateTokens(chunk.text));
            lastStart = chunk.charStart;
            covered.fill(1, chunk.charStart, chunk.charEnd);
          }
          const headingLines = new Set<number>();
          for (const m of text.matchAll(/^(#{1,6})[ \t]+(.+?)[ \t#]*$/gm)) {
            for (let i = m.index ?? 0; i < (m.index ?? 0) + m[0].length; i++) {
              headingLines.add(i);
            }
          }
          for (let i = 0; i < text.length; i++) {
            if (!/\s/.test(text[i] ?? "") && !headingLines.has(i)) {
              expect(covered[i], `char ${i} ${JSON.stringify(text[i])}`).toBe(1);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("docxToText", () => {
  const contentTypes = `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`;
  const p = (text: string, style?: string) =>
    `<w:p>${style ? `<w:pPr><w:pStyle w:val="${style}"/></w:pPr>` : ""}<w:r><w:t xml:space="preserve">${text}</w:t></w:r></w:p>`;
  const docx = (body: string, types = contentTypes) =>
    zipSync({
      "[Content_Types].xml": strToU8(types),
      "word/document.xml": strToU8(`<?xml version="1.0"?><w:document><w:body>${body}</w:body></w:document>`),
    });

  it("reads paragraphs in order, headings as # lines, tables as rows, entities decoded", () => {
    const body = [
      p("Employee Handbook", "Title"),
      p("Welcome &amp; hello."),
      p("Leave", "Heading2"),
      `<w:p><w:r><w:t>25 days</w:t></w:r><w:r><w:tab/><w:t>per year</w:t></w:r></w:p>`,
      `<w:tbl><w:tr><w:tc>${p("Grade")}</w:tc><w:tc>${p("Days")}</w:tc></w:tr><w:tr><w:tc>${p("A")}</w:tc><w:tc>${p("30")}</w:tc></w:tr></w:tbl>`,
    ].join("");
    const file = docx(body);
    expect(sniff(file)).toBe("docx");
    expect(docxToText(file)).toBe(
      "# Employee Handbook\n\nWelcome & hello.\n\n## Leave\n\n25 days per year\n\nGrade | Days\n\nA | 30",
    );
  });

  it("refuses an archive without a WordprocessingML main part, and garbage", () => {
    expect(() => docxToText(docx(p("x"), "<Types/>"))).toThrow(DocxError);
    expect(() => docxToText(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]))).toThrow(DocxError);
  });
});

describe("pdfToPages", () => {
  it("extracts the text of each page, in order", async () => {
    const file = makePdf(["Hello from page one", "And page (two)"]);
    expect(sniff(file)).toBe("pdf");
    expect(await pdfToPages(file)).toEqual(["Hello from page one", "And page (two)"]);
  });

  it("refuses an encrypted PDF, one without text, and garbage, with a reason", async () => {
    await expect(pdfToPages(makePdf(["secret"], { encrypt: true }))).rejects.toThrow(/encrypted/);
    await expect(pdfToPages(makePdf([""]))).rejects.toThrow(/no extractable text/);
    await expect(pdfToPages(new TextEncoder().encode("%PDF-1.4 nonsense"))).rejects.toThrow(PdfError);
  });
});

describe("queryTerms / ftsQuery", () => {
  it("keeps content words, lower-cased and unique, without stop words or punctuation", () => {
    expect(queryTerms("What is the Employee's leave? LEAVE, leave; café 2024!")).toEqual([
      "employee",
      "leave",
      "café",
      "2024",
    ]);
    expect(queryTerms("the of and")).toEqual([]);
    expect(queryTerms(Array.from({ length: 50 }, (_, i) => `w${i}`).join(" "))).toHaveLength(32);
  });

  it("quotes every term so user text is never FTS syntax", () => {
    expect(ftsQuery(['a"b', "near"])).toBe('"a""b" OR "near"');
    fc.assert(
      fc.property(fc.string(), (text) => {
        for (const term of queryTerms(text)) {
          expect(term).toMatch(/^[\p{L}\p{N}'’]+$/u);
        }
      }),
    );
  });
});

describe("report language", () => {
  it("marks Korean pages so that lines break between words, not syllables", () => {
    expect(languageOf("휴가 답변 직원은 매년 25일의 유급 휴가를 받는다")).toBe("ko");
    // Korean quoting Hanja is still Korean; kana makes it Japanese; Han alone Chinese.
    expect(languageOf("대한민국(大韓民國)의 수도")).toBe("ko");
    expect(languageOf("東京都に住んでいます")).toBe("ja");
    expect(languageOf("北京是中国的首都")).toBe("zh");
    expect(languageOf("Vacation policy")).toBe("en");
  });
});

describe("chunkText and code blocks", () => {
  it("does not take a `#` line inside a fenced code block for a heading", () => {
    const text = [
      "# Guide",
      "",
      "Run this:",
      "",
      "```sh",
      "# 1. Create a tenant",
      "curl -s -X POST $BASE/v1/admin/tenants",
      "```",
      "",
      "## Errors",
      "",
      "Every error is problem+json.",
      "",
      "~~~",
      "# not a heading either",
      "~~~",
    ].join("\n");
    const headings = chunkText(text, { maxTokens: 20, overlap: 0 }).map((c) => c.heading);
    expect(new Set(headings)).toEqual(new Set(["Guide", "Guide › Errors"]));
  });
});
