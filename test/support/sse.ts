import { createParser } from "eventsource-parser";

/**
 * The events of a text/event-stream response body, read by `eventsource-parser` as a
 * browser would (an event not ended by a blank line is dropped, so a server that forgets it fails).
 */
export async function readSse(res: Response): Promise<Array<{ event: string; data: string }>> {
  const events: Array<{ event: string; data: string }> = [];
  const parser = createParser({ onEvent: (e) => events.push({ event: e.event ?? "message", data: e.data }) });
  parser.feed(await res.text());
  return events;
}
