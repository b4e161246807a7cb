// A task's log as it happens: consecutive `stream` lines (the model's text, a few characters
// each) join into one block; every other line is one row. Lines are keyed by seq, so a line
// that arrives twice (history and live stream overlap) is shown once.

import { explain, h } from './ui.js';

function parse(payload) {
  try {
    return typeof payload === 'string' ? JSON.parse(payload) : payload || {};
  } catch {
    return { text: payload };
  }
}

function short(value, max = 300) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text && text.length > max ? `${text.slice(0, max - 1)}…` : text || '';
}

function describe(event, p) {
  switch (event) {
    case 'started': return `started with ${p.model || 'the default model'}`;
    case 'session_resumed': return `resumed with ${p.model || 'the default model'}`;
    case 'tool_start': return `calls ${p.tool} ${short(p.input)}`;
    case 'tool_result': return `${p.tool} → ${short(p.output)}`;
    case 'permission_request': return `asks to run ${p.tool} ${short(p.input)}: answer it in the Inbox`;
    case 'permission_response': return `${p.tool}: ${p.behavior === 'allow' ? 'allowed' : 'denied'}${p.message ? ` (${p.message})` : ''}`;
    case 'retry': return `provider error, retry ${p.attempt} in ${p.delaySeconds} s: ${p.message}`;
    case 'usage': return `${p.inputTokens} in + ${p.outputTokens} out tokens`;
    case 'file_change': return `${p.created ? 'created' : 'changed'} ${p.path} (diff under File changes)`;
    case 'completed': return 'completed';
    case 'error': return p.message ? explain(p.message) : 'failed';
    case 'cancelled': return 'cancelled';
    default: return short(p);
  }
}

export class LogView {
  constructor() {
    this.el = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Task log' });
    this.seen = new Set();
    this.text = null; // the open block of streamed text
    this.count = 0;
  }

  add(line) {
    if (this.seen.has(line.seq)) return;
    this.seen.add(line.seq);
    this.count += 1;
    const stick = this.el.scrollTop + this.el.clientHeight >= this.el.scrollHeight - 20;
    const p = parse(line.payload);
    if (line.event === 'stream' || line.event === 'content_block_delta') {
      if (!this.text) {
        this.text = h('div', { class: 'line text' });
        this.el.append(this.text);
      }
      this.text.append(p.text || '');
    } else {
      this.text = null;
      const time = new Date(line.timestamp).toLocaleTimeString();
      this.el.append(h('div', { class: `line line-${line.event}`, 'data-seq': line.seq },
        h('span', { class: 'muted' }, `${time} `), h('span', { class: 'event' }, line.event), ' ',
        describe(line.event, p)));
    }
    if (stick) this.el.scrollTop = this.el.scrollHeight;
  }
}
