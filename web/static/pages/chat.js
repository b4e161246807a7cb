// Chat: conversations (history, resume), streamed replies with tool calls as they happen,
// model and personality pickers, inline permission answers and slash commands.

import { answerButtons } from '../approvals.js';
import { api, readEventStream } from '../api.js';
import { PERSONALITIES, runCommand } from '../chatcommands.js';
import { ago, clear, empty, errorBox, h, link, options, run } from '../ui.js';

const RUNTIME_OF = { anthropic: 'anthropic-direct', openai: 'openai-direct', ollama: 'ollama' };

function parseMeta(message) {
  try {
    return message.metadata ? JSON.parse(message.metadata) : {};
  } catch {
    return {};
  }
}

function bubble(role, text, extra = {}) {
  return h('div', { class: `msg msg-${role}${extra.error ? ' msg-error' : ''}`, 'data-role': role }, text);
}

async function chatPage(root, params, scope) {
  const page = h('div');
  root.append(page);
  let conv = null;
  let busy = false;
  const [models, personality] = await Promise.all([
    api.get('/api/chat/models').catch(() => []),
    api.get('/api/v1/stan/personality').then((r) => r.personality).catch(() => 'professional'),
  ]);
  let tone = personality;

  const convList = h('ul');
  const sidebar = h('nav', { 'aria-label': 'Conversations' },
    h('button', { type: 'button', class: 'primary', onclick: () => { location.hash = '#/chat'; } }, 'New conversation'),
    convList);
  const title = h('h1', { text: 'Chat' });
  const model = h('select', { 'aria-label': 'Model' }, options([['', 'Default model'],
    ...models.map((m) => [m.id, `${m.label} (${m.costLabel})`])]));
  const tonePicker = h('select', { 'aria-label': 'Personality' }, options(PERSONALITIES.map((p) => [p, p]), tone));
  const messages = h('div', { class: 'messages', role: 'log', 'aria-live': 'polite' });
  const statusLine = h('p', { class: 'muted', role: 'status' });
  const input = h('textarea', { 'aria-label': 'Message', placeholder: 'Ask anything, or type /help for commands (press / to focus)',
    'data-slash': true, maxlength: 200000 });
  const sendButton = h('button', { type: 'submit', class: 'primary' }, 'Send');
  const errors = h('div');
  const composer = h('form', { class: 'composer', 'aria-label': 'Send a message' }, input, errors,
    h('div', { class: 'spread' }, h('span', { class: 'hint' }, 'Enter sends, Shift+Enter starts a new line'), sendButton));
  page.append(h('div', { class: 'chat' }, sidebar, h('div', {}, title,
    h('div', { class: 'row' }, model, tonePicker), messages, statusLine, composer)));

  const say = (text) => {
    messages.append(bubble('system', text));
    messages.lastChild.scrollIntoView({ block: 'nearest' });
  };

  async function loadList() {
    try {
      const rows = await api.get('/api/chat/conversations?limit=50');
      clear(convList, rows.length ? rows.map((c) => h('li', {}, h('a', {
        href: `#/chat/${c.id}`, 'aria-current': conv && c.id === conv.id ? 'page' : null },
      c.title || 'Untitled', h('div', { class: 'muted' }, ago(c.updatedAt)))))
        : h('li', { class: 'muted' }, 'No conversations yet.'));
    } catch (err) {
      clear(convList, h('li', {}, errorBox(err)));
    }
  }

  function showEmpty() {
    api.get('/api/chat/suggested-prompts').then((groups) => {
      if (!scope.alive || messages.childElementCount) return;
      messages.append(empty('Start a conversation: ask about your tasks, or have the assistant create and run them.',
        h('div', { class: 'row' }, groups.flatMap((g) => g.prompts).slice(0, 6).map((p) =>
          h('button', { type: 'button', onclick: () => { input.value = p.prompt; input.focus(); } }, p.label)))));
    }).catch(() => {});
  }

  function renderHistory(rows) {
    clear(messages);
    for (const m of rows) {
      const meta = parseMeta(m);
      const b = bubble(m.role === 'user' ? 'user' : 'assistant', m.content, { error: m.status === 'error' });
      if (meta.toolCalls?.length) {
        b.prepend(...meta.toolCalls.map((c) => h('div', { class: 'tool' }, `used ${c.name}`)));
      }
      messages.append(b);
    }
    if (!rows.length) showEmpty();
  }

  async function open(id) {
    conv = await api.get(`/api/chat/conversations/${id}`);
    title.textContent = conv.title || 'Untitled conversation';
    model.value = conv.modelId || '';
    if (conv.modelId && model.value !== conv.modelId) {
      model.append(h('option', { value: conv.modelId }, conv.modelId));
      model.value = conv.modelId;
    }
    tone = conv.personality || 'professional';
    tonePicker.value = tone;
    renderHistory(await api.get(`/api/chat/conversations/${id}/messages`));
  }

  async function create() {
    const picked = models.find((m) => m.id === model.value);
    conv = await api.post('/api/chat/conversations', {
      runtimeId: RUNTIME_OF[picked?.provider] || 'openai-direct', modelId: model.value || undefined, personality: tone });
    history.replaceState(null, '', `#/chat/${conv.id}`); // no hashchange: the page (and its stream) stays
    return conv;
  }

  const chat = {
    conversation: () => conv,
    personality: () => tone,
    select: (id) => { location.hash = `#/chat/${id}`; },
    newConversation: async () => {
      conv = null;
      history.replaceState(null, '', '#/chat');
      title.textContent = 'Chat';
      clear(messages);
      await loadList();
    },
    setModel: async (id) => {
      if (conv) conv = await api.patch(`/api/chat/conversations/${conv.id}`, { modelId: id || null });
      if (![...model.options].some((o) => o.value === id)) model.append(h('option', { value: id }, id));
      model.value = id;
    },
    setPersonality: async (p) => {
      if (conv) conv = await api.patch(`/api/chat/conversations/${conv.id}`, { personality: p });
      tone = p;
      tonePicker.value = p;
    },
    rename: async (text) => {
      conv = await api.patch(`/api/chat/conversations/${conv.id}`, { title: text });
      title.textContent = conv.title;
      await loadList();
    },
  };

  model.addEventListener('change', () => run(model, () => chat.setModel(model.value), errors));
  tonePicker.addEventListener('change', () => run(tonePicker, () => chat.setPersonality(tonePicker.value), errors));

  async function streamReply(content) {
    messages.querySelector('.empty')?.remove();
    const mine = bubble('user', content);
    messages.append(mine);
    const reply = bubble('assistant', '');
    reply.dataset.streaming = 'true';
    const text = document.createTextNode('');
    reply.append(text);
    messages.append(reply);
    const tools = {};
    let response;
    try {
      if (!conv) await create();
      // Leaving the page stops reading; the daemon still finishes and stores the reply.
      const reading = new AbortController();
      scope.cleanup(() => reading.abort());
      response = await api.stream(`/api/chat/conversations/${conv.id}/messages`, { content }, { signal: reading.signal });
    } catch (err) {
      mine.remove();
      reply.remove();
      throw err;
    }
    statusLine.textContent = 'Thinking…';
    await readEventStream(response, (event) => {
      if (event.type === 'delta') {
        text.appendData(event.content);
      } else if (event.type === 'status') {
        statusLine.textContent = event.message || event.phase;
      } else if (event.type === 'tool_call') {
        tools[event.toolCallId] = h('div', { class: 'tool' }, `calls ${event.name} ${JSON.stringify(event.arguments)}`);
        reply.insertBefore(tools[event.toolCallId], text);
      } else if (event.type === 'tool_result') {
        tools[event.toolCallId]?.append(h('div', {}, `→ ${event.result.slice(0, 300)}`));
      } else if (event.type === 'permission_request' || event.type === 'question') {
        const slot = h('div');
        const box = h('div', { class: 'approval' }, h('p', {}, `Allow ${event.toolName || 'this tool'}?`),
          h('pre', {}, JSON.stringify(event.toolInput ?? event.questions, null, 2)));
        box.append(answerButtons({ notificationId: event.requestId, conversationId: conv.id },
          (behavior) => clear(box, h('p', { class: 'muted' }, behavior === 'allow' ? 'Allowed.' : 'Denied.')), slot), slot);
        reply.insertBefore(box, text);
      } else if (event.type === 'done') {
        delete reply.dataset.streaming;
        statusLine.textContent = '';
        const links = (event.quickAccess || []).map((q) => link(q.href, q.label));
        if (links.length) reply.append(h('div', { class: 'row' }, links));
      } else if (event.type === 'error') {
        delete reply.dataset.streaming;
        reply.classList.add('msg-error');
        statusLine.textContent = '';
        reply.append(errorBox({ message: event.message }));
      }
      messages.lastChild?.scrollIntoView({ block: 'nearest' });
    });
    delete reply.dataset.streaming;
    statusLine.textContent = '';
    await loadList();
    if (conv && scope.alive) title.textContent = (await api.get(`/api/chat/conversations/${conv.id}`)).title || 'Untitled conversation';
  }

  async function submit() {
    const content = input.value;
    if (!content.trim() || busy) return;
    busy = true;
    input.value = '';
    await run(sendButton, async () => {
      try {
        const answer = await runCommand(content, chat);
        if (answer === undefined) await streamReply(content);
        else if (answer) say(answer);
      } catch (err) {
        input.value = content; // nothing was lost: the text is back in the box
        throw err;
      }
    }, errors);
    busy = false;
  }

  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });

  if (params.id) {
    try {
      await open(params.id);
    } catch (err) {
      messages.append(errorBox(err));
    }
  } else {
    showEmpty();
  }
  await loadList();
  input.focus();
}

export default {
  nav: { label: 'Chat', path: '/chat' },
  routes: { '/chat': chatPage, '/chat/:id': chatPage },
};
