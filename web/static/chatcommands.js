// Chat slash commands. Each one is answered in the browser by calling the documented REST
// endpoint it names, so nothing reaches the model: /help lists them.

import { api } from './api.js';

export const PERSONALITIES = ['professional', 'friendly', 'concise'];

// chat: { conversation(), select(id), newConversation(), setModel(id), setPersonality(p), rename(t) }
export const COMMANDS = {
  help: { usage: '/help', about: 'List these commands', run: async () => list() },
  new: { usage: '/new', about: 'Start a new conversation', run: async (arg, chat) => {
    await chat.newConversation();
    return 'Started a new conversation.';
  } },
  model: { usage: '/model [id]', about: 'Show or switch this conversation’s model', run: async (arg, chat) => {
    if (!arg) {
      const models = await api.get('/api/chat/models');
      const current = chat.conversation()?.modelId || 'the default model';
      return `Current model: ${current}.\nAvailable: ${models.map((m) => m.id).join(', ')} (or any LiteLLM model id).`;
    }
    await chat.setModel(arg);
    return `Model switched to ${arg}.`;
  } },
  personality: { usage: '/personality [p]', about: `Show or set the tone: ${PERSONALITIES.join(', ')}`, run: async (arg, chat) => {
    if (!arg) return `Current personality: ${chat.personality()}.`;
    if (!PERSONALITIES.includes(arg)) return `Unknown personality “${arg}”. Use one of: ${PERSONALITIES.join(', ')}.`;
    await chat.setPersonality(arg);
    return `Personality set to ${arg}.`;
  } },
  conversations: { usage: '/conversations', about: 'List recent conversations', run: async () => {
    const rows = await api.get('/api/chat/conversations?limit=20');
    if (!rows.length) return 'No conversations yet.';
    return `Recent conversations (resume one with /resume <id>):\n${rows.map((c) =>
      `  ${c.id.slice(0, 8)}  ${c.title || '(untitled)'}  [${c.messageCount ?? 0} messages]`).join('\n')}`;
  } },
  resume: { usage: '/resume <id>', about: 'Open a past conversation (an id or its first characters)', run: async (arg, chat) => {
    if (!arg) return 'Usage: /resume <id> (see /conversations for the ids).';
    const rows = await api.get('/api/chat/conversations?limit=1000&mode=chat');
    const found = rows.filter((c) => c.id.startsWith(arg));
    if (found.length !== 1) return found.length ? `“${arg}” matches ${found.length} conversations; give more of the id.` : `No conversation id starts with “${arg}”.`;
    chat.select(found[0].id);
    return null;
  } },
  rename: { usage: '/rename <title>', about: 'Rename this conversation', run: async (arg, chat) => {
    if (!chat.conversation()) return 'There is no conversation to rename yet.';
    if (!arg) return 'Usage: /rename <title>.';
    await chat.rename(arg);
    return `Renamed to “${arg}”.`;
  } },
  archive: { usage: '/archive', about: 'Archive this conversation', run: async (arg, chat) => {
    const conv = chat.conversation();
    if (!conv) return 'There is no conversation to archive.';
    await api.patch(`/api/chat/conversations/${conv.id}`, { status: 'archived' });
    await chat.newConversation();
    return 'Archived. This is a new conversation.';
  } },
  tasks: { usage: '/tasks', about: 'List running and queued tasks', run: async () => {
    const rows = (await api.get('/api/tasks')).filter((t) => ['running', 'queued'].includes(t.status));
    return rows.length ? `Running or queued:\n${rows.map((t) => `  ${t.title} [${t.status}]`).join('\n')}`
      : 'No task is running or queued.';
  } },
};

function list() {
  return `Commands:\n${Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(18)} ${c.about}`).join('\n')}`;
}

export function parse(text) {
  const match = /^\s*\/([A-Za-z][\w-]*)(?:\s+([\s\S]*))?$/.exec(text);
  return match ? { name: match[1].toLowerCase(), arg: (match[2] || '').trim() } : null;
}

// The command's answer (text, or null when it has nothing to say), or null for a non-command.
export async function runCommand(text, chat) {
  const parsed = parse(text);
  if (!parsed) return undefined;
  const command = COMMANDS[parsed.name];
  if (!command) return `Unknown command /${parsed.name}.\n${list()}`;
  return command.run(parsed.arg, chat);
}
