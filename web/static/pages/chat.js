// Chat: conversations (history, resume), streamed replies in Markdown with their tool calls as
// they happen, Stop, the model and cost of each reply, model and personality pickers, inline
// permission answers and slash commands (with completion). A reply keeps being read when the
// page is left (chatturns.js) and shows again on return; after a reload, one still being
// written is read again from the daemon's stream of the reply in progress.

import { answerButtons } from '../approvals.js';
import { api } from '../api.js';
import { COMMANDS, PERSONALITIES, runCommand } from '../chatcommands.js';
import { liveTurn, reattachTurn, startTurn } from '../chatturns.js';
import { Reply, historyNodes, readable, systemBubble, userBubble } from '../chatview.js';
import { slashMenu } from '../slashmenu.js';
import { ago, clear, empty, errorBox, h, options, run } from '../ui.js';

const RUNTIME_OF = { anthropic: 'anthropic-direct', openai: 'openai-direct', ollama: 'ollama' };

async function chatPage(root, params, scope) {
  const page = h('div');
  root.append(page);
  let conv = null;
  let busy = false;     // a reply of this conversation is being written
  let current = null;   // the live Turn shown here
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
  // Models of a provider that is not set up are listed but cannot be picked; a new conversation
  // starts on the default model (one of a provider that is set up), named in the list.
  const fallback = models.find((m) => m.default) || null;
  const model = h('select', { 'aria-label': 'Model' },
    h('option', { value: '' }, fallback ? `Default: ${fallback.label}` : 'Default model'),
    models.map((m) => h('option', { value: m.id, disabled: m.available === false },
      `${m.label} (${m.available === false ? 'not set up' : m.costLabel})`)));
  const tonePicker = h('select', { 'aria-label': 'Personality' }, options(PERSONALITIES.map((p) => [p, p]), tone));
  const messages = h('div', { class: 'messages', role: 'log', 'aria-live': 'polite' });
  const statusLine = h('p', { class: 'muted', role: 'status' });
  const input = h('textarea', { 'aria-label': 'Message', placeholder: 'Ask anything, or type / for commands (press / to focus)',
    'data-slash': true, maxlength: 200000 });
  const suggestions = slashMenu(input, Object.entries(COMMANDS).map(([name, c]) => ({ name, usage: c.usage, about: c.about })));
  const sendButton = h('button', { type: 'submit', class: 'primary' }, 'Send');
  const stopButton = h('button', { type: 'button', class: 'danger', hidden: true,
    title: 'Stop this reply' }, 'Stop');
  const errors = h('div');
  const composer = h('form', { class: 'composer', 'aria-label': 'Send a message' }, suggestions, input, errors,
    h('div', { class: 'spread' }, h('span', { class: 'hint' }, 'Enter sends, Shift+Enter starts a new line, / lists commands'),
      h('span', { class: 'buttons' }, stopButton, sendButton)));
  page.append(h('div', { class: 'chat' }, sidebar, h('div', {}, title,
    h('div', { class: 'row' }, model, tonePicker), messages, statusLine, composer)));

  const scrollDown = () => messages.lastElementChild?.scrollIntoView({ block: 'nearest' });
  const say = (text) => {
    messages.append(systemBubble(text));
    scrollDown();
  };
  const setBusy = (on) => {
    busy = on;
    stopButton.hidden = !on || !current;
    sendButton.disabled = on;
  };

  async function loadList() {
    try {
      const rows = (await api.get('/api/chat/conversations?limit=50'))
        .filter((c) => c.messageCount || (conv && c.id === conv.id)); // no empty "Untitled" ones
      if (!scope.alive) return;
      clear(convList, rows.length ? rows.map((c) => h('li', {}, h('a', {
        href: `#/chat/${c.id}`, 'aria-current': conv && c.id === conv.id ? 'page' : null },
      c.title || 'Untitled', h('div', { class: 'muted' }, ago(c.updatedAt)))))
        : h('li', { class: 'muted' }, 'No conversations yet.'));
    } catch (err) {
      clear(convList, h('li', {}, errorBox(err)));
    }
  }

  async function refreshTitle() {
    if (!conv || !scope.alive) return;
    try {
      conv = await api.get(`/api/chat/conversations/${conv.id}`);
      if (scope.alive) title.textContent = conv.title || 'Untitled conversation';
    } catch {
      // the conversation was deleted meanwhile: the list shows what is left
    }
  }

  async function replyEnded() {
    setBusy(false);
    current = null;
    statusLine.textContent = '';
    await loadList();
    await refreshTitle();
  }

  function showEmpty() {
    api.get('/api/chat/suggested-prompts').then((groups) => {
      if (!scope.alive || messages.childElementCount) return;
      messages.append(empty('Start a conversation: ask about your tasks, or have the assistant create and run them.',
        h('div', { class: 'row' }, groups.flatMap((g) => g.prompts).slice(0, 6).map((p) =>
          h('button', { type: 'button', onclick: () => { input.value = p.prompt; input.focus(); } }, p.label)))));
    }).catch(() => {});
  }

  // The live reply: its events (those so far replayed first) drawn into a Reply.
  function attach(turn) {
    current = turn;
    messages.querySelector('.empty')?.remove();
    messages.append(userBubble(turn.content));
    const reply = new Reply();
    reply.streaming(true);
    messages.append(reply.el);
    setBusy(true);
    const unsubscribe = turn.subscribe((event) => {
      if (event.type === 'delta') {
        reply.text(event.content);
      } else if (event.type === 'status') {
        statusLine.textContent = event.message || event.phase;
      } else if (event.type === 'tool_call') {
        reply.tool(event.toolCallId, event.name, event.arguments);
      } else if (event.type === 'tool_result') {
        reply.toolResult(event.toolCallId, event.result);
      } else if (event.type === 'permission_request' || event.type === 'question') {
        const slot = h('div');
        const box = h('div', { class: 'approval' }, h('p', {}, `Allow ${event.toolName || 'this tool'}?`),
          readable(event.toolInput ?? event.questions));
        box.append(answerButtons({ notificationId: event.requestId, conversationId: turn.conversationId },
          (behavior) => clear(box, h('p', { class: 'muted' }, behavior === 'allow' ? 'Allowed.' : 'Denied.')), slot), slot);
        reply.add(box);
      } else if (event.type === 'done') {
        reply.close();
        reply.streaming(false);
        if (event.isComplete === false) reply.note('The reply is incomplete.');
        reply.meta(event.model, event.usage);
        reply.links(event.quickAccess);
        replyEnded();
      } else if (event.type === 'error') {
        reply.streaming(false);
        reply.error(event.message);
        replyEnded();
      } else if (event.type === 'stopped') {
        reply.streaming(false);
        reply.note(event.cancelled ? 'Stopped.'
          : 'Stopped reading. The daemon could not be asked to stop; the reply shows here when you open the conversation again.');
        replyEnded();
      }
      scrollDown();
    });
    scope.cleanup(unsubscribe); // leaving the page stops drawing, not the reply
  }

  async function open(id) {
    const turn = liveTurn(id); // taken before the history is read: a reply ending meanwhile stays whole
    const [c, stored] = await Promise.all([api.get(`/api/chat/conversations/${id}`),
      api.get(`/api/chat/conversations/${id}/messages?includeSteps=true`)]);
    let rows = stored;
    if (!scope.alive) return;
    conv = c;
    title.textContent = conv.title || 'Untitled conversation';
    model.value = conv.modelId || '';
    if (conv.modelId && model.value !== conv.modelId) {
      model.append(h('option', { value: conv.modelId }, conv.modelId));
      model.value = conv.modelId;
    }
    tone = conv.personality || 'professional';
    tonePicker.value = tone;
    if (turn) {
      // This tab is reading the reply: the history up to its message, then the reply as it comes.
      const cut = rows.findLastIndex((m) => m.role === 'user' && m.content === turn.content);
      clear(messages, historyNodes(cut >= 0 ? rows.slice(0, cut) : rows.filter((m) => m.id !== turn.messageId)));
      attach(turn);
      return;
    }
    if (conv.replying) {
      // A reply this tab is not reading (the page was reloaded): read it again from its start.
      const cut = rows.findLastIndex((m) => m.role === 'user');
      const again = await reattachTurn(id, cut >= 0 ? rows[cut].content : '');
      if (!scope.alive) return;
      if (again) {
        clear(messages, historyNodes(cut >= 0 ? rows.slice(0, cut) : rows));
        attach(again);
        return;
      }
      rows = await api.get(`/api/chat/conversations/${id}/messages?includeSteps=true`); // it ended meanwhile
      if (!scope.alive) return;
    }
    clear(messages, historyNodes(rows));
    if (!rows.length) showEmpty();
  }

  async function create() {
    const picked = models.find((m) => m.id === model.value) || fallback;
    conv = await api.post('/api/chat/conversations', {
      runtimeId: RUNTIME_OF[picked?.provider] || 'openai-direct', modelId: model.value || fallback?.id || undefined,
      personality: tone });
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

  // The conversation is created with the first message and kept only when its reply starts:
  // a message that cannot start (no provider, a budget cap) leaves no empty conversation behind.
  async function send(content) {
    const made = !conv;
    if (made) await create();
    let turn;
    try {
      turn = await startTurn(conv.id, content);
    } catch (err) {
      if (made) {
        const gone = conv;
        conv = null;
        await api.del(`/api/chat/conversations/${gone.id}`).catch(() => {});
      }
      throw err;
    }
    if (made) history.replaceState(null, '', `#/chat/${conv.id}`); // no hashchange: the page stays
    statusLine.textContent = 'Thinking…';
    attach(turn);
    loadList();
  }

  async function submit() {
    const content = input.value;
    if (!content.trim()) return;
    const command = content.trim().startsWith('/');
    if (busy && !command) return;
    input.value = '';
    if (!command) sendButton.disabled = true;
    await run(null, async () => {
      try {
        const answer = await runCommand(content, chat);
        if (answer === undefined) await send(content);
        else if (answer) say(answer);
      } catch (err) {
        input.value = content; // nothing was lost: the text is back in the box
        throw err;
      }
    }, errors);
    sendButton.disabled = busy;
  }

  stopButton.addEventListener('click', () => run(stopButton, () => current?.stop(), errors));
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
      if (scope.alive) messages.append(errorBox(err));
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
