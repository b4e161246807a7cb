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

// "Denied automatically in 4:59", counting down each second while the element is in the page.
export function countdown(expiresAt) {
  const end = new Date(expiresAt).getTime();
  const el = h('span', { class: 'countdown', 'data-countdown': true, title: new Date(end).toLocaleString() });
  let shown = false;
  const tick = () => {
    if (el.isConnected) shown = true;
    else if (shown) return clearInterval(timer); // redrawn or the page was left
    const left = Math.max(0, Math.round((end - Date.now()) / 1000));
    const clock = left >= 3600 ? `${Math.floor(left / 3600)} h ${Math.floor((left % 3600) / 60)} min`
      : `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
    el.textContent = left ? `denied automatically in ${clock}` : 'no answer in time: denied';
    if (!left) clearInterval(timer);
    return undefined;
  };
  const timer = setInterval(tick, 1000);
  tick();
  return el;
}

// What became of an answered request, in words: its stored response.
export function outcome(response) {
  let r = response;
  if (typeof r === 'string') {
    try {
      r = JSON.parse(r);
    } catch {
      return null;
    }
  }
  if (!r || !r.behavior) return null;
  if (r.behavior === 'allow') return r.alwaysAllow ? 'Allowed (always)' : 'Allowed';
  if (/timed out/i.test(r.message || '')) return 'No answer in time: denied';
  if (r.message && !/^User denied/i.test(r.message)) return `Denied: ${r.message}`;
  return 'Denied';
}
