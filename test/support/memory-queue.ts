import { createMessageBatch } from "cloudflare:test";
import type { IngestMessage } from "../../src/schemas/queue";
import type { IngestQueues } from "../../src/services/queue";

/** A queue that keeps what it is sent, so a unit test hands it to the consumer itself. */
export class MemoryQueue {
  readonly sent: IngestMessage[] = [];

  async send(body: IngestMessage): Promise<void> {
    this.sent.push(body);
  }

  async sendBatch(messages: Iterable<MessageSendRequest<IngestMessage>>): Promise<void> {
    for (const message of messages) {
      this.sent.push(message.body);
    }
  }

  /** Everything sent so far as one delivery (first attempt), and the queue emptied. */
  drain(queue = "edgerag-ingest"): MessageBatch<IngestMessage> {
    const bodies = this.sent.splice(0);
    return createMessageBatch<IngestMessage>(
      queue,
      bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
    );
  }
}

/** Both priorities over one memory queue. */
export function memoryQueues(): { queues: IngestQueues; queue: MemoryQueue } {
  const queue = new MemoryQueue();
  const binding = queue as unknown as Queue<IngestMessage>;
  return { queue, queues: { high: binding, bulk: binding } };
}
