// A chat reply being written, read from the SSE answer to its POST by this tab, apart from any
// page: leaving the chat does not stop the reading, and coming back to the conversation replays
// what arrived so far and follows the rest. (After a reload the reply is found in the stored
// messages instead: see chatview.js followStored.)

import { api, readEventStream } from './api.js';

const live = new Map(); // conversationId -> Turn
const FINAL = new Set(['done', 'error', 'stopped']);
let cancelRoute = null; // Promise<boolean>: does the daemon offer POST …/{id}/cancel?

class Turn {
  constructor(conversationId, content) {
    this.conversationId = conversationId;
    this.content = content;
    this.events = [];
    this.listeners = new Set();
    this.finished = false;
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

  // Stop: the daemon cancels the turn when it has a route for that; this tab stops reading.
  async stop() {
    if (this.finished) return;
    let cancelled = false;
    if (await hasCancelRoute()) {
      try {
        await api.post(`/api/chat/conversations/${this.conversationId}/cancel`);
        cancelled = true;
      } catch {
        cancelled = false; // finished meanwhile, or refused: reading stops all the same
      }
    }
    this.push({ type: 'stopped', cancelled });
    this.controller.abort();
  }
}

function hasCancelRoute() {
  cancelRoute ||= api.get('/api/openapi.json')
    .then((spec) => Boolean(spec?.paths?.['/api/chat/conversations/{id}/cancel']?.post))
    .catch(() => false);
  return cancelRoute;
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
  readEventStream(response, (event) => turn.push(event)).then(() => {
    turn.push({ type: 'error', lost: true, message: 'The reply stream ended early (was the daemon restarted?).' });
  }, () => {
    turn.push({ type: 'error', lost: true, message: 'The connection to the daemon was lost while the reply was written.' });
  });
  return turn;
}
