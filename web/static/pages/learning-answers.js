// Inbox answers for what agents learn and hand over: a learned-context proposal (approve,
// optionally edited, or reject) and a handoff waiting for approval (approve or reject).

import { api } from '../api.js';
import { button, h, run } from '../ui.js';

// A pending-approvals item of type context_proposal (its toolInput is parsed).
export function contextAnswer(item, done, errorSlot) {
  const text = h('textarea', { name: 'additions', 'aria-label': 'Proposed context' }, item.toolInput?.additions || item.body || '');
  const answer = (b, action) => run(b, async () => {
    const edited = text.value.trim();
    await api.post('/api/context/batch', { proposalIds: [item.notificationId], action,
      ...(action === 'approve' && edited && edited !== item.toolInput?.additions ? { editedContent: edited } : {}) });
    done(action);
  }, errorSlot);
  const approve = button('Approve', () => answer(approve, 'approve'), { class: 'primary' });
  const reject = button('Reject', () => answer(reject, 'reject'), { class: 'danger' });
  return h('div', {}, text, h('div', { class: 'row' }, approve, reject));
}

// A notification of a handoff that requires approval (toolName Handoff, not yet answered).
export function handoffAnswer(n, done, errorSlot) {
  if (n.type !== 'agent_message' || n.toolName !== 'Handoff' || n.response) return null;
  let input = {};
  try { input = JSON.parse(n.toolInput || '{}'); } catch { return null; }
  if (!input.handoffId) return null;
  const answer = (b, action) => run(b, async () => {
    await api.patch(`/api/handoffs/${input.handoffId}`, { action });
    await done(action);
  }, errorSlot);
  const approve = button('Approve handoff', () => answer(approve, 'approve'), { class: 'primary' });
  const reject = button('Reject', () => answer(reject, 'reject'), { class: 'danger' });
  return h('div', { class: 'row' }, approve, reject);
}
