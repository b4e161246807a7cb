// Inbox: tool calls waiting for an answer (allow once / always / deny) and notifications, live.

import { answerButtons, countdown, outcome } from '../approvals.js';
import { api } from '../api.js';
import { ago, badge, button, clear, empty, errorBox, explain, h, link, run, section, when } from '../ui.js';
import { contextAnswer, handoffAnswer } from './learning-answers.js';

const CHECKPOINT_TOOL = 'WorkflowCheckpoint';

function source(item) {
  if (item.taskId) return ['task ', link(`/tasks/${item.taskId}`, item.taskTitle || 'open the task')];
  if (item.conversationId) return ['chat ', link(`/chat/${item.conversationId}`, 'open the conversation')];
  if (item.workflowId) {
    return ['workflow ', link(`/workflows/${item.workflowId}`, item.workflowName || 'open the workflow')];
  }
  return [];
}

// A request of neither a task nor a chat (a workflow checkpoint, a Lars action) is answered
// through the generic route; "always allow" means nothing for it, so it gets Approve / Reject.
function approveOrReject(item, done, errorSlot) {
  const answer = (b, behavior) => run(b, async () => {
    await api.post(`/api/notifications/${item.notificationId}/respond`, { behavior });
    done(behavior);
  }, errorSlot);
  const approve = button('Approve', () => answer(approve, 'allow'), { class: 'primary' });
  const reject = button('Reject', () => answer(reject, 'deny'), { class: 'danger' });
  return h('div', { class: 'row' }, approve, reject);
}

function approvalItem(item, reload) {
  const slot = h('div');
  const direct = item.notificationType === 'permission_required' && !item.taskId && !item.conversationId;
  const checkpoint = item.toolName === CHECKPOINT_TOOL && item.toolInput;
  return h('li', { class: 'approval', 'data-approval': item.notificationId },
    h('div', { class: 'spread' }, h('strong', {}, checkpoint ? `Workflow checkpoint: ${item.toolInput.stepName}`
      : `${item.permissionLabel}: ${item.compactSummary}`), h('span', { class: 'muted' }, ago(item.createdAt))),
    h('div', { class: 'muted' }, source(item), item.expiresAt ? [' · ', countdown(item.expiresAt)] : ''),
    checkpoint ? [item.body ? h('pre', {}, item.body) : null, h('p', { class: 'muted' }, 'Then it runs:'),
      h('pre', {}, item.toolInput.prompt || '(nothing: the output is passed on)')]
      : item.toolInput ? h('pre', {}, JSON.stringify(item.toolInput, null, 2)) : null,
    item.notificationType === 'context_proposal' ? contextAnswer(item, reload, slot)
      : direct ? approveOrReject(item, reload, slot) : answerButtons(item, reload, slot), slot);
}

// The kinds of notification in words (not `permission_required`).
const KINDS = {
  permission_required: 'approval', task_completed: 'task done', task_failed: 'task failed',
  agent_message: 'message', budget_alert: 'budget', context_proposal: 'learning',
  context_proposal_batch: 'learning',
};

function notificationItem(n, reload, errors) {
  const answered = n.type === 'permission_required' ? outcome(n.response) : null;
  const toggle = button(n.read ? 'Mark unread' : 'Mark read', () => run(toggle, async () => {
    await api.patch(`/api/notifications/${n.id}`, { read: !n.read });
    await reload();
  }, errors));
  const del = button('Delete', () => run(del, async () => {
    await api.del(`/api/notifications/${n.id}`);
    await reload();
  }, errors));
  return h('li', { 'data-notification': n.id, class: n.read ? 'read' : 'unread' },
    h('div', { class: 'spread' }, h('span', {}, n.read ? '' : h('strong', {}, '● '), h('strong', {}, n.title), ' ',
      badge(n.type, KINDS[n.type] || n.type.replaceAll('_', ' '))),
    h('span', { class: 'muted', title: when(n.createdAt) }, ago(n.createdAt))),
    answered ? h('p', { 'data-outcome': true }, h('strong', {}, answered),
      n.respondedAt ? h('span', { class: 'muted' }, ` · ${ago(n.respondedAt)}`) : null) : null,
    n.body ? h('p', { class: 'muted' }, explain(n.body.slice(0, 500))) : null,
    handoffAnswer(n, reload, errors),
    h('div', { class: 'row' }, n.taskId ? link(`/tasks/${n.taskId}`, 'Open task') : null, toggle, del));
}

async function inbox(root, params, scope) {
  const page = h('div');
  root.append(page);
  const approvals = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const notifications = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const errors = h('div');
  const markAll = button('Mark all read', () => run(markAll, async () => {
    await api.patch('/api/notifications/mark-all-read');
    await loadNotifications();
  }, errors));
  page.append(h('h1', { text: 'Inbox' }), section('Waiting for your answer', approvals),
    section('Notifications', h('div', { class: 'row' }, markAll), errors, notifications));

  async function loadApprovals() {
    try {
      const items = await api.get('/api/notifications/pending-approvals');
      clear(approvals, items.length ? h('ul', { class: 'plain' }, items.map((i) => approvalItem(i, loadAll)))
        : empty('Nothing is waiting for you. When a task or a chat wants to use a tool you have not allowed, ' +
          'or a workflow reaches a checkpoint, it asks here.'));
    } catch (err) {
      clear(approvals, errorBox(err));
    }
  }
  async function loadNotifications() {
    try {
      const rows = (await api.get('/api/notifications')).filter((n) => !(n.type === 'permission_required' && !n.response));
      clear(notifications, rows.length ? h('ul', { class: 'plain' }, rows.map((n) => notificationItem(n, loadNotifications, errors)))
        : empty('No notifications yet. Finished and failed tasks, budget alerts and heartbeat findings show up here.'));
    } catch (err) {
      clear(notifications, errorBox(err));
    }
  }
  async function loadAll() {
    await Promise.all([loadApprovals(), loadNotifications()]);
  }
  await loadAll();
  const later = scope.coalesce(loadAll);
  scope.on('notification', later);
  scope.on('reconnected', later);
}

export default { nav: { label: 'Inbox', path: '/inbox' }, routes: { '/inbox': inbox } };
