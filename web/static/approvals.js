// Answering a permission request, wherever it came from: a task run, a chat turn, a workflow
// checkpoint or a Lars action.

import { api } from './api.js';
import { button, h, run } from './ui.js';

// item: a pending-approvals entry (notificationId, taskId, conversationId, ...).
export async function respond(item, behavior, { always = false } = {}) {
  const id = item.notificationId || item.id;
  const alwaysAllow = behavior === 'allow' && always;
  if (item.taskId) {
    return api.post(`/api/tasks/${item.taskId}/respond`, { notificationId: id, behavior, alwaysAllow });
  }
  if (item.conversationId) {
    return api.post(`/api/chat/conversations/${item.conversationId}/respond`, { requestId: id, behavior, alwaysAllow });
  }
  // A workflow checkpoint or a Lars action: answered by its id (no "always" for these).
  return api.post(`/api/notifications/${id}/respond`, { behavior });
}

// The three buttons; `done(behavior)` runs after a successful answer.
export function answerButtons(item, done, errorSlot) {
  const actions = item.supportedActionIds || ['allow_once', 'always_allow', 'deny'];
  const wrap = h('div', { class: 'row' });
  const add = (id, label, behavior, always, props = {}) => {
    if (!actions.includes(id)) return;
    const b = button(label, () => run(b, async () => {
      await respond(item, behavior, { always });
      done(behavior);
    }, errorSlot), props);
    wrap.append(b);
  };
  add('allow_once', 'Allow once', 'allow', false, { class: 'primary' });
  add('always_allow', item.suggestedPattern ? `Always allow ${item.suggestedPattern}` : 'Always allow', 'allow', true);
  add('deny', 'Deny', 'deny', false, { class: 'danger' });
  return wrap;
}
