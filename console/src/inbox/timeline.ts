// One thread from two lists: messages and decisions (each oldest first) interleaved by time.
import type { Decision, Message } from '../api/types';

export type TimelineItem =
  | { kind: 'message'; at: number; message: Message }
  | { kind: 'decision'; at: number; decision: Decision };

function millis(iso: string): number {
  const value = Date.parse(iso);
  return Number.isNaN(value) ? Number.POSITIVE_INFINITY : value;
}

// At the same instant: what the lead or seller wrote, then the decision about it, then the agent's reply.
function rank(item: TimelineItem): number {
  if (item.kind === 'decision') return 1;
  return item.message.role === 'agent' ? 2 : 0;
}

export function buildTimeline(messages: readonly Message[], decisions: readonly Decision[]): TimelineItem[] {
  const items: TimelineItem[] = [
    ...messages.map((message): TimelineItem => ({ kind: 'message', at: millis(message.at), message })),
    ...decisions.map((decision): TimelineItem => ({ kind: 'decision', at: millis(decision.decided_at), decision })),
  ];
  // Array.prototype.sort is stable: equal items keep the API's order.
  return items.sort((a, b) => a.at - b.at || rank(a) - rank(b));
}
