/** A small, strict reader of a text/event-stream response body (events split on blank lines). */
export async function readSse(res: Response): Promise<Array<{ event: string; data: string }>> {
  const text = await res.text();
  return text
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim() !== "")
    .map((block) => {
      let event = "message";
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event:")) {
          event = line.slice(6).trim();
        } else if (line.startsWith("data:")) {
          data.push(line.slice(5).replace(/^ /, ""));
        }
      }
      return { event, data: data.join("\n") };
    });
}
