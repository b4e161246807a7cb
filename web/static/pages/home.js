// Home: the first step when no model is connected yet, what is running, what finished lately,
// what waits for an answer, heartbeat health and today's spend. Every card loads on its own, so
// one failing API call leaves the others working.

import { api } from '../api.js';
import { taskBadge, waitingTaskIds } from '../runs.js';
import { ago, badge, clear, empty, errorBox, explain, h, link, money, section, when } from '../ui.js';

function taskList(tasks, waiting) {
  return h('ul', { class: 'plain' }, tasks.map((t) => h('li', { class: 'spread' },
    h('span', {}, link(`/tasks/${t.id}`, t.title), ' ', taskBadge(t, waiting)),
    h('span', { class: 'muted' }, ago(t.updatedAt)))));
}

// First run: nothing can answer until a provider is set up (GET /api/settings/providers).
async function connectStep(slot) {
  try {
    const overview = await api.get('/api/settings/providers');
    if (overview.configuredProviderCount) return;
  } catch {
    return; // the other cards say what is wrong with the daemon
  }
  clear(slot, h('section', { class: 'card first-run', 'data-card': 'Connect a model' },
    h('h2', {}, 'Connect a model'),
    h('p', {}, 'Tasks, chat and schedules need a language model. Add an Anthropic or OpenAI API key, or point ',
      'stagent at a local Ollama, and press Test to check it answers.'),
    h('p', {}, link('/settings', 'Open Settings to connect a model', { class: 'button primary' }))));
}

async function fill(card, load) {
  const body = card.querySelector('.body');
  try {
    clear(body, await load());
  } catch (err) {
    clear(body, errorBox(err));
  }
}

function card(title) {
  const el = section(title, h('div', { class: 'body' }, h('p', { class: 'muted', text: 'Loading…' })));
  el.dataset.card = title;
  return el;
}

async function loadTasks() {
  const [tasks, waiting] = await Promise.all([api.get('/api/tasks'), waitingTaskIds().catch(() => new Set())]);
  const running = tasks.filter((t) => t.status === 'running' || t.status === 'queued');
  const recent = tasks.filter((t) => !running.includes(t))
    .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt)).slice(0, 8);
  return { running, recent, total: tasks.length, waiting };
}

async function loadApprovals() {
  const items = await api.get('/api/notifications/pending-approvals');
  if (!items.length) return empty('Nothing is waiting for your answer.');
  return [h('p', { class: 'big' }, String(items.length)),
    h('ul', { class: 'plain' }, items.slice(0, 5).map((item) => h('li', {},
      h('strong', {}, item.permissionLabel), ' ', item.compactSummary,
      h('div', { class: 'muted' }, item.taskId ? ['task ', link(`/tasks/${item.taskId}`, item.taskTitle || 'open it')]
        : item.workflowId ? ['workflow ', link(`/workflows/${item.workflowId}`, item.workflowName || 'open it')]
          : item.conversationId ? ['chat ', link(`/chat/${item.conversationId}`, 'open it')] : '')))),
    link('/inbox', 'Answer them in the Inbox')];
}

async function loadHeartbeat() {
  const [config, runs] = await Promise.all([api.get('/api/v1/stan/heartbeat'),
    api.get('/api/v1/stan/heartbeat/history?limit=1')]);
  const state = config.enabled ? `every ${config.intervalMinutes} min: ${config.checks.join(', ') || 'no checks'}`
    : 'disabled';
  const last = runs[0];
  return [h('p', {}, 'Heartbeat ', state, '.'),
    last ? h('div', {}, badge(last.healthy ? 'healthy' : 'warning'), ' last run ', ago(last.finishedAt),
      last.issues.length ? h('ul', {}, last.issues.map((i) => h('li', {}, `${i.check}: `, explain(i.message)))) : null)
      : empty('It has not run yet. Run it now from the Schedules page.', link('/schedules', 'Open Schedules'))];
}

// The worst state of any cap: over the warning threshold (amber) or reached (red).
function spendHealth(budgets) {
  const capped = (budgets.statuses || []).filter((s) => s.limitValue !== null);
  const blocked = capped.find((s) => s.health === 'blocked');
  if (blocked) {
    return h('p', { class: 'error', 'data-spend-health': 'blocked' }, `${blocked.scopeLabel} ${blocked.window} cap reached: `,
      'model calls are refused until it resets', blocked.resetAtIso ? ` (${when(blocked.resetAtIso)})` : '',
      ' or the cap is raised.');
  }
  const warning = capped.find((s) => s.health === 'warning');
  if (warning) {
    const percent = Math.round((budgets.alertThreshold || 0.8) * 100);
    return h('p', { class: 'warning', 'data-spend-health': 'warning' },
      `Over ${percent} % of the ${warning.scopeLabel.toLowerCase()} ${warning.window} cap.`);
  }
  return null;
}

async function loadSpend() {
  const budgets = await api.get('/api/settings/budgets');
  const cap = budgets.dailyLimit;
  return [spendHealth(budgets), h('p', { class: 'big' }, money(budgets.dailySpend)),
    h('p', { class: 'muted' }, cap ? `of a ${money(cap)} daily cap` : 'no daily cap set',
      ` · this month ${money(budgets.monthlySpend)}`,
      budgets.monthlyLimit ? ` of ${money(budgets.monthlyLimit)}` : ''),
    link('/settings', 'Set budgets in Settings')];
}

async function home(root, params, scope) {
  const running = card('Running now');
  const recent = card('Recent tasks');
  const approvals = card('Waiting for you');
  const heartbeat = card('Heartbeat');
  const spend = card("Today's spend");
  const first = h('div');
  root.append(h('h1', { text: 'Home' }), first, h('div', { class: 'grid' }, running, approvals, recent, heartbeat, spend));
  connectStep(first);

  const refreshTasks = async () => {
    let data;
    try {
      data = await loadTasks();
    } catch (err) {
      clear(running.querySelector('.body'), errorBox(err));
      clear(recent.querySelector('.body'), errorBox(err));
      return;
    }
    clear(running.querySelector('.body'), data.running.length ? taskList(data.running, data.waiting)
      : empty('No task is running.', link('/tasks', 'Create and run a task')));
    clear(recent.querySelector('.body'), data.recent.length ? taskList(data.recent, data.waiting)
      : empty(data.total ? 'No finished tasks yet.' : 'No tasks yet. Create one on the Tasks page.',
        link('/tasks', 'Go to Tasks')));
  };
  const refreshApprovals = () => fill(approvals, loadApprovals);
  refreshTasks();
  refreshApprovals();
  fill(heartbeat, loadHeartbeat);
  fill(spend, loadSpend);
  const tasksLater = scope.coalesce(refreshTasks);
  const approvalsLater = scope.coalesce(refreshApprovals);
  const spendLater = scope.coalesce(() => fill(spend, loadSpend), 1000);
  scope.on('task', () => {
    tasksLater();
    spendLater();
  });
  scope.on('notification', () => {
    approvalsLater();
    tasksLater(); // a run starts or stops waiting for you
  });
  scope.on('reconnected', () => {
    tasksLater();
    approvalsLater();
  });
}

export default { nav: { label: 'Home', path: '/' }, routes: { '/': home } };
