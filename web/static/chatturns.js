// A chat reply being written, read by this tab apart from any page: leaving the chat does not
// stop the reading, and coming back to the conversation replays what arrived so far and follows
// the rest. A reply this tab did not start (the page was reloaded, or another tab sent it) is
// read from GET …/stream, which replays the turn's events from its start and follows it.

import { api, readEventStream } from './api.js';

const live = new Map(); // conversationId -> Turn
const FINAL = new Set(['done', 'error', 'stopped']);

class Turn {
  constructor(conversationId, content) {
    this.conversationId = conversationId;
    this.content = content;
    this.events = [];
    this.listeners = new Set();
    this.finished = false;
    this.stopping = false;
    this.lastEventId = 0;
    this.messageId = null;
    this.controller = new AbortController();
  }

  // fn(event) for every event so far, then for each new one; returns the unsubscribe function.
  subscribe(fn) {
    this.events.forEach(fn);
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  push(event) {
    if (this.finished) return;
    if (event.eventId) {
      if (event.eventId <= this.lastEventId) return; // already shown (a resumed stream)
      this.lastEventId = event.eventId;
    }
    if (this.stopping && event.type === 'error') event = { type: 'stopped', cancelled: true };
    if (event.type === 'done') this.messageId = event.messageId;
    if (FINAL.has(event.type)) {
      this.finished = true;
      if (live.get(this.conversationId) === this) live.delete(this.conversationId);
    }
    this.events.push(event);
    for (const fn of [...this.listeners]) {
      try {
        fn(event);
      } catch (err) {
        console.error(err); // one view's bug must not stop the reading
      }
    }
  }

  // Stop: the daemon cancels the turn (it stores the reply as interrupted and ends the stream).
  async stop() {
    if (this.finished) return;
    this.stopping = true;
    let cancelled = false;
    try {
      cancelled = (await api.post(`/api/chat/conversations/${this.conversationId}/cancel`)).cancelled;
    } catch {
      cancelled = false; // refused or unreachable: this tab stops reading all the same
    }
    this.push({ type: 'stopped', cancelled });
    this.controller.abort();
  }

  // Reads the stream to its end; a connection cut mid-reply resumes once from the last event.
  async read(response) {
    for (let resumed = false; ; resumed = true) {
      try {
        await readEventStream(response, (event) => this.push(event));
      } catch {
        // cut: resumed below
      }
      if (this.finished || this.controller.signal.aborted) return;
      const next = resumed ? null : await openStream(this.conversationId, this.lastEventId, this.controller.signal);
      if (!next) {
        this.push({ type: 'error', lost: true,
          message: 'The connection to the daemon was lost while the reply was written; open the conversation again to see it.' });
        return;
      }
      response = next;
    }
  }
}

// The reply in progress as a Response, or null when there is none (204) or it cannot be read.
async function openStream(conversationId, after, signal) {
  try {
    const response = await api.get(`/api/chat/conversations/${conversationId}/stream?after=${after}`,
      { raw: true, signal });
    return response && response.status === 200 ? response : null;
  } catch {
    return null;
  }
}

export function liveTurn(conversationId) {
  return live.get(conversationId) || null;
}

// Sends the message; resolves with the Turn once the reply stream has started, or throws the
// API's error (no provider, a budget cap, a reply already in progress) when it cannot start.
export async function startTurn(conversationId, content) {
  const turn = new Turn(conversationId, content);
  const response = await api.stream(`/api/chat/conversations/${conversationId}/messages`, { content },
    { signal: turn.controller.signal });
  live.set(conversationId, turn);
  turn.read(response);
  return turn;
}

// Follows a reply this tab did not start, from its first event; null when none is in progress.
export async function reattachTurn(conversationId, content) {
  const turn = new Turn(conversationId, content);
  const response = await openStream(conversationId, 0, turn.controller.signal);
  if (!response) return null;
  live.set(conversationId, turn);
  turn.read(response);
  return turn;
}
