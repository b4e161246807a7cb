// How chat messages read: a reply is its text (Markdown) and its tool calls in the order they
// happened, each tool call with its input and result in words (not JSON), and a footer with the
// model, tokens and cost. The same view serves a live reply (events of the SSE stream) and a
// stored one (the conversation's messages, steps included).

import { render } from './markdown.js';
import { clear, errorBox, h, link, money, plural } from './ui.js';

function parseJson(text) {
  if (typeof text !== 'string') return undefined;
  const trimmed = text.trim();
  if (!/^[[{]/.test(trimmed)) return undefined;
  try {
    return JSON.parse(trimmed);
  } catch {
    return undefined;
  }
}

function short(text, max = 160) {
  const value = String(text);
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

// One value in a line: an object by its name and state, a list by its length.
function summary(value) {
  if (value === null || value === undefined) return '—';
  if (Array.isArray(value)) return value.length ? plural(value.length, 'item') : 'none';
  if (typeof value === 'object') {
    const name = value.title ?? value.name ?? value.label ?? value.summary;
    const extra = ['status', 'pattern', 'type'].filter((k) => typeof value[k] === 'string').map((k) => value[k]);
    if (name !== undefined) return `${short(name, 120)}${extra.length ? ` (${extra.join(', ')})` : ''}`;
    const plain = Object.entries(value).filter(([, v]) => v === null || typeof v !== 'object').slice(0, 4);
    return plain.length ? plain.map(([k, v]) => `${k}: ${short(v, 60)}`).join(', ') : `${Object.keys(value).length} fields`;
  }
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return short(value, 300);
}

// A value (tool input or result) for reading: lists as lists, objects as name/value pairs.
export function readable(value) {
  const parsed = parseJson(value);
  if (parsed !== undefined) return readable(parsed);
  if (Array.isArray(value)) {
    if (!value.length) return h('p', { class: 'muted' }, 'Nothing.');
    const more = value.length > 12 ? h('li', { class: 'muted' }, `and ${value.length - 12} more`) : null;
    return h('ul', {}, value.slice(0, 12).map((v) => h('li', {}, summary(v))), more);
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    if (!entries.length) return h('p', { class: 'muted' }, 'Nothing.');
    return h('dl', {}, entries.slice(0, 16).map(([k, v]) => [h('dt', {}, k), h('dd', {}, summary(v))]));
  }
  if (typeof value === 'string' && value.length > 400) {
    return h('details', {}, h('summary', {}, short(value, 120)), h('div', { class: 'md' }, render(value)));
  }
  return h('p', {}, value === undefined || value === '' ? '(empty)' : String(value));
}

function resultHeadline(result) {
  const parsed = parseJson(result);
  if (Array.isArray(parsed)) return parsed.length ? plural(parsed.length, 'result') : 'no results';
  if (parsed && typeof parsed === 'object') return summary(parsed);
  const text = String(result ?? '');
  if (/^(error|permission denied)/i.test(text)) return short(text, 100);
  return short(text.split('\n')[0], 80) || 'done';
}

class ToolBlock {
  constructor(name, args) {
    this.name = name;
    this.title = h('summary', {}, `Using ${name}…`);
    this.result = h('div');
    const input = args && typeof args === 'object' && Object.keys(args).length
      ? [h('div', { class: 'muted' }, 'Input'), readable(args)] : h('p', { class: 'muted' }, 'No input.');
    this.el = h('details', { class: 'tool', 'data-tool': name }, this.title, input, this.result);
  }

  done(result) {
    this.title.textContent = `Used ${this.name} · ${resultHeadline(result)}`;
    clear(this.result, h('div', { class: 'muted' }, 'Result'), readable(result));
  }
}

export function userBubble(text) {
  return h('div', { class: 'msg msg-user', 'data-role': 'user' }, text);
}

export function systemBubble(text) {
  return h('div', { class: 'msg msg-system', 'data-role': 'system' }, text);
}

// One assistant reply: text segments (Markdown) and tool blocks in the order they came.
export class Reply {
  constructor() {
    this.body = h('div', { class: 'body' });
    this.footer = h('div');
    this.el = h('div', { class: 'msg msg-assistant', 'data-role': 'assistant' }, this.body, this.footer);
    this.segment = null;
    this.source = '';
    this.tools = new Map();
    this.frame = 0;
  }

  streaming(on) {
    if (on) this.el.dataset.streaming = 'true';
    else delete this.el.dataset.streaming;
  }

  text(chunk) {
    if (!this.segment) {
      if (!chunk.trim()) return; // the blank line between two steps' text
      this.segment = h('div', { class: 'md' });
      this.source = '';
      this.body.append(this.segment);
    }
    this.source += chunk;
    // Re-rendered at most once a frame while it streams.
    this.frame ||= requestAnimationFrame(() => this.flush());
  }

  flush() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (this.segment) clear(this.segment, render(this.source.replace(/^\s+/, '')));
  }

  close() {
    this.flush();
    this.segment = null;
  }

  tool(id, name, args) {
    this.close();
    const block = new ToolBlock(name, args);
    this.tools.set(id, block);
    this.body.append(block.el);
  }

  toolResult(id, result) {
    this.tools.get(id)?.done(result);
  }

  add(node) {
    this.close();
    this.body.append(node);
  }

  meta(model, usage) {
    const parts = [model || 'the default model'];
    if (usage && (usage.inputTokens || usage.outputTokens)) {
      parts.push(`${usage.inputTokens ?? 0} in + ${usage.outputTokens ?? 0} out tokens`);
    }
    if (usage && typeof usage.costMicros === 'number') parts.push(money(usage.costMicros / 1e6));
    this.footer.append(h('div', { class: 'meta', 'data-meta': true, title: 'Model, tokens and cost of this reply' },
      parts.join(' · ')));
  }

  note(text) {
    this.close();
    this.footer.append(h('p', { class: 'note' }, text));
  }

  error(message) {
    this.close();
    this.el.classList.add('msg-error');
    this.footer.append(errorBox({ message }));
  }

  links(items) {
    const links = (items || []).map((q) => link(q.href, q.label));
    if (links.length) this.footer.append(h('div', { class: 'row' }, links));
  }
}

function parseMeta(message) {
  try {
    return message.metadata ? JSON.parse(message.metadata) : {};
  } catch {
    return {};
  }
}

// A stored row of a reply (assistant text, a step's tool calls, a tool result) added to `reply`.
// Returns true when the row ends the reply (the final answer, or the failure).
export function addStored(reply, m) {
  if (m.role === 'tool') {
    reply.toolResult(m.toolCallId, m.content);
    return false;
  }
  const meta = parseMeta(m);
  if (m.content) {
    reply.text(m.content);
    reply.close();
  }
  for (const call of m.toolCalls || []) {
    const fn = call.function || call;
    const args = typeof fn.arguments === 'string' ? parseJson(fn.arguments) ?? {} : fn.arguments || {};
    reply.tool(call.id, fn.name, args);
  }
  if (m.status === 'error') {
    reply.error(meta.error || 'The reply failed.');
    return true;
  }
  if (m.toolCalls && m.toolCalls.length) return false;
  if (meta.incomplete) reply.note('The reply is incomplete.');
  reply.meta(meta.model || m.model, meta.usage);
  return true;
}

// The stored messages (steps included) as bubbles; replies group their steps.
export function historyNodes(rows) {
  const out = [];
  let reply = null;
  for (const m of rows) {
    if (m.role === 'user') {
      out.push(userBubble(m.content));
      reply = null;
    } else if (m.role === 'assistant' || m.role === 'tool') {
      if (!reply) {
        reply = new Reply();
        out.push(reply.el);
      }
      if (addStored(reply, m)) reply = null;
    } else if (m.content) {
      out.push(systemBubble(m.content));
    }
  }
  return out;
}
