// One workflow: its steps as its pattern runs them, Run / Pause / Cancel, live progress, the
// checkpoint waiting for an answer, run history and trigger URLs. The page state is /status.
// Progress comes from the tab's one shared stream (events.js), not a stream of its own: the
// engine's lines about this workflow (payload.workflowId) say when /status changed, and its step
// tasks' lines are the text a running step writes.

import { api } from '../api.js';
import { countdown } from '../approvals.js';
import * as events from '../events.js';
import { markdown } from '../markdown.js';
import { ago, badge, button, clear, empty, errorBox, explain, field, h, link, plural, run, section, stacked, toast, when } from '../ui.js';
import { workflowDocuments } from './workflow-documents.js';
import { definitionOf, isGate, stepName, stepPrompt, stepsByRole } from './workflow-steps.js';

// Engine events after which /status (states, history, buttons) has changed.
const REFRESH_ON = new Set(['run_started', 'run_resumed', 'step_started', 'step_waiting', 'step_finished',
  'run_paused', 'run_finished', 'step_retry', 'retry_refused']);
const TEXT_EVENTS = new Set(['stream', 'content_block_delta']);
const STATE_LABEL = { waiting_approval: 'waiting for approval' };

const ENGINE = 'workflow-engine'; // agent_type of the engine's own lines (they have no task id)

function parsePayload(text) {
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' ? value : {};
  } catch {
    return {};
  }
}

// What a step task's log line adds to the text its step shows while it runs.
function stepText(line) {
  if (TEXT_EVENTS.has(line.event)) return parsePayload(line.payload).text || '';
  if (line.event === 'permission_request') {
    return `\n[asks to run ${parsePayload(line.payload).tool}: answer it in the Inbox or on its task page]\n`;
  }
  return '';
}

// The text each step task writes, from the tab's shared stream (events.js). A task seen starting
// (step_started) is followed from its first line. One already running when the page learns of it
// from /status first reads its earlier lines (/api/events/logs) while holding back what the
// stream delivers meanwhile; a line at or below the task's last seq is skipped, so none shows twice.
class StepTexts {
  constructor(scope, errors) {
    this.scope = scope;
    this.errors = errors;
    this.tasks = new Map(); // taskId -> {text, lastSeq, held: lines waiting for the history, or null}
    this.els = new Map();   // taskId -> the element showing its text
  }

  text(taskId) {
    return this.tasks.get(taskId)?.text || '';
  }

  follow(taskId, fromStart) {
    if (!taskId || this.tasks.has(taskId)) return;
    const task = { text: '', lastSeq: 0, held: fromStart ? null : [] };
    this.tasks.set(taskId, task);
    if (fromStart) return;
    events.history(taskId, (line) => this.add(line, true))
      .catch((err) => this.scope.alive && clear(this.errors, errorBox(err)))
      .finally(() => {
        const held = task.held;
        task.held = null;
        held.forEach((line) => this.add(line));
      });
  }

  add(line, fromHistory = false) {
    const task = this.tasks.get(line.taskId);
    if (!task) return;
    if (task.held && !fromHistory) {
      task.held.push(line);
      return;
    }
    if (line.seq <= task.lastSeq) return;
    task.lastSeq = line.seq;
    const add = stepText(line);
    if (!add) return;
    task.text += add;
    const el = this.els.get(line.taskId);
    if (el) {
      el.textContent = task.text;
      el.scrollTop = el.scrollHeight;
    }
  }
}

// ---- the checkpoint ------------------------------------------------------------------------------

function checkpointCard(workflowId, step, request, done) {
  const errors = h('div');
  const notificationId = step.state.notificationId;
  const answer = (b, behavior, extra = {}) => run(b, async () => {
    await api.post(`/api/workflows/${workflowId}/respond`, { notificationId, behavior, ...extra });
    toast(behavior === 'allow' ? `“${stepName(step)}” approved.` : `“${stepName(step)}” rejected.`);
    await done();
  }, errors);
  const prompt = request?.toolInput?.prompt ?? stepPrompt(step);
  const edited = h('textarea', { name: 'prompt', rows: 6, 'aria-label': 'Prompt to run' }, prompt);
  const editor = h('form', { 'aria-label': 'Edit the prompt', hidden: true },
    field('Prompt to run', edited, 'The previous step’s output still goes before it.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Approve with this prompt')));
  editor.addEventListener('submit', (event) => {
    event.preventDefault();
    answer(event.submitter, 'allow', { updatedInput: { prompt: edited.value } });
  });
  const approve = button('Approve', () => answer(approve, 'allow'), { class: 'primary' });
  const edit = button('Edit prompt and approve', () => {
    editor.hidden = !editor.hidden;
    if (!editor.hidden) edited.focus();
  });
  const reject = button('Reject', () => answer(reject, 'deny'), { class: 'danger' });
  const body = request?.body || '';
  const previous = body.startsWith('Previous step output:\n') ? body.slice('Previous step output:\n'.length) : '';
  return section(`Checkpoint: ${stepName(step)}`,
    h('div', { class: 'approval', 'data-checkpoint': notificationId },
      h('p', {}, 'The workflow waits for your approval before it runs this step',
        request?.expiresAt ? [' (', countdown(request.expiresAt), ')'] : '', '.'),
      previous ? [h('p', { class: 'muted' }, 'Output of the step before:'), h('pre', {}, previous)]
        : body ? h('p', { class: 'muted' }, body) : null,
      h('p', { class: 'muted' }, 'It will run:'), h('pre', {}, prompt || '(nothing: the output above is passed on)'),
      h('div', { class: 'row' }, approve, edit, reject), editor, errors));
}

// ---- steps ---------------------------------------------------------------------------------------

function stepOutcome(state, live) {
  switch (state.status) {
    case 'running': {
      const el = h('pre', { class: 'live-output', 'aria-live': 'polite', 'data-live': state.taskId || '' },
        live.text(state.taskId));
      if (state.taskId) live.els.set(state.taskId, el);
      return [h('p', { class: 'muted' }, 'Working…'), el];
    }
    case 'waiting_approval': return h('p', { class: 'muted' }, 'Waiting for your approval (above).');
    case 'completed': return state.result ? markdown(state.result, { 'data-result': true, class: 'md result' }) : null;
    case 'failed': return h('p', { class: 'error' }, state.error ? explain(state.error) : 'Failed.');
    default: return null;
  }
}

function stepItem(step, role, ctx) {
  const state = step.state || { status: 'pending' };
  const details = [step.agentProfile && `profile ${step.agentProfile}`, step.modelId && `model ${step.modelId}`,
    step.assignedAgent && `runtime ${step.assignedAgent}`,
    step.dependsOn?.length && `after ${step.dependsOn.join(', ')}`].filter(Boolean).join(' · ');
  const prompt = stepPrompt(step);
  const retry = state.status === 'failed' && ctx.idle ? button('Retry step', () => run(retry, async () => {
    const answer = await api.post(`/api/workflows/${ctx.id}/steps/${encodeURIComponent(step.id)}/retry`);
    if (answer.error) throw new Error(answer.error);
    await ctx.refresh();
  }, ctx.errors)) : null;
  return h('li', { class: 'step', 'data-step': step.id },
    h('div', { class: 'spread' },
      h('span', {}, role ? h('span', { class: 'muted' }, `${role} · `) : null, h('strong', {}, stepName(step)), ' ',
        ctx.ran ? h('span', { class: `badge badge-${state.status}`, 'data-state': state.status },
          STATE_LABEL[state.status] || state.status) : null,
        isGate(step) ? [' ', h('span', { class: 'badge badge-checkpoint', title: 'Asks for your approval before it runs' },
          'checkpoint')] : null),
      h('span', { class: 'row' }, state.taskId ? link(`/tasks/${state.taskId}`, 'Open its task') : null, retry)),
    details ? h('div', { class: 'muted' }, details) : null,
    prompt ? h('details', { 'data-key': `prompt-${step.id}`, open: ctx.open.has(`prompt-${step.id}`) },
      h('summary', {}, 'Prompt'), h('pre', {}, prompt)) : null,
    stepOutcome(state, ctx.live));
}

function loopView(status, ctx) {
  const config = status.loopConfig || {};
  const step = status.steps[0] || {};
  const loop = status.loopState;
  const limits = [`at most ${config.maxIterations} iterations`,
    config.timeBudgetMs ? `within ${Math.round(config.timeBudgetMs / 1000)} s` : null,
    `stops early when the agent writes ${(config.completionSignals || ['LOOP_COMPLETE']).join(' or ')}`].filter(Boolean);
  const iterations = loop?.iterations || [];
  return [h('p', {}, 'Runs one prompt again and again, each time with the previous iteration’s output: ',
    limits.join(', '), '.'),
  h('pre', {}, stepPrompt(step)),
  loop ? h('p', { class: 'muted' },
    `${loop.currentIteration} of at most ${config.maxIterations} iterations done · ${loop.status}`,
    loop.stopReason ? ` · stopped: ${loop.stopReason.replaceAll('_', ' ')}` : '') : null,
  iterations.length ? h('ol', { class: 'steps' }, iterations.map((it) => h('li',
    { class: 'step', 'data-iteration': it.iteration },
    h('div', { class: 'spread' }, h('span', {}, h('strong', {}, `Iteration ${it.iteration}`), ' ', badge(it.status)),
      it.taskId ? link(`/tasks/${it.taskId}`, 'Open its task') : null),
    stepOutcome(it, ctx.live))))
    : h('p', { class: 'muted' }, 'No iterations yet.')];
}

function stepsView(status, ctx) {
  if (status.pattern === 'loop') return loopView(status, ctx);
  const definition = definitionOf(status.definition);
  return stepsByRole(status.pattern, status.steps, definition).map(({ title, hint, steps, roles }) => [
    title ? h('h3', {}, title) : null, hint ? h('p', { class: 'muted' }, hint) : null,
    h('ol', { class: 'steps' }, steps.map((step, i) => stepItem(step, roles?.[i], ctx)))]);
}

// ---- history and triggers ------------------------------------------------------------------------

// Each run against every step of the workflow, not only the steps that got as far as a task.
function stepsOfRun(r, stepCount, loop) {
  const done = r.completedCount || 0;
  const failed = r.failedCount || 0;
  if (loop) return `${plural(r.taskCount || 0, 'iteration')}: ${done} completed${failed ? `, ${failed} failed` : ''}`;
  const notRun = Math.max(stepCount - done - failed, 0);
  return [`${done} of ${plural(stepCount, 'step')} completed`, failed ? `, ${failed} failed` : '',
    notRun && r.status !== 'running' && r.status !== 'active' ? `, ${notRun} not run` : ''].join('');
}

function historyView(history, stepCount, loop) {
  if (!history.length) return empty('It has not run yet. Press Run to start it.');
  return stacked(h('table', {}, h('thead', {}, h('tr', {}, ['Run', 'Status', 'Trigger', 'Started', 'Finished', 'Steps', 'Note']
    .map((c) => h('th', { text: c })))),
  h('tbody', {}, history.map((r) => h('tr', { 'data-run': r.runNumber },
    h('td', {}, `#${r.runNumber}`), h('td', {}, r.status ? badge(r.status) : '—'), h('td', {}, r.trigger || '—'),
    h('td', {}, when(r.startedAt)), h('td', {}, when(r.finishedAt)),
    h('td', {}, stepsOfRun(r, stepCount, loop)),
    h('td', { class: 'muted' }, r.error || (r.stopReason ? `stopped: ${r.stopReason.replaceAll('_', ' ')}` : '—')))))));
}

function triggerItem(t) {
  if (t.kind === 'webhook') {
    const copy = t.url ? button('Copy', () => run(copy, async () => {
      await navigator.clipboard.writeText(t.url);
      toast('Webhook URL copied.');
    })) : null;
    return h('li', { 'data-trigger': t.nodeId }, h('strong', {}, t.name || 'Webhook'), ' ', badge('webhook'),
      h('div', { class: 'row' }, t.url ? h('code', {}, t.url) : h('span', { class: 'muted' }, 'No URL yet.'), copy),
      h('p', { class: 'hint' }, 'POST to this URL to start a run; the request body becomes the run’s input.'),
      t.error ? h('p', { class: 'error' }, t.error) : null);
  }
  return h('li', { 'data-trigger': t.nodeId }, h('strong', {}, t.name || 'Schedule'), ' ', badge('schedule'),
    t.status ? [' ', badge(t.status)] : null,
    h('div', { class: 'muted' }, t.cronExpression ? h('code', {}, t.cronExpression) : null,
      t.timeZone ? ` ${t.timeZone}` : '', t.nextFireAt ? ` · next run ${when(t.nextFireAt)}` : '',
      t.scheduleId ? [' · ', link('/schedules', 'Schedules')] : null),
    t.error ? h('p', { class: 'error' }, t.error) : null);
}

async function loadTriggers(id, box) {
  try {
    const { triggers } = await api.get(`/api/workflows/${id}/triggers`);
    clear(box, triggers.length ? section('Triggers', h('ul', { class: 'plain' }, triggers.map(triggerItem))) : null);
  } catch (err) {
    clear(box, section('Triggers', errorBox(err)));
  }
}

// ---- the page ------------------------------------------------------------------------------------

function actions(status, ctx) {
  const act = (label, fn, props) => {
    const b = button(label, () => run(b, async () => {
      await fn();
      await ctx.refresh();
    }, ctx.errors), props);
    return b;
  };
  const id = status.id;
  const out = [];
  if (status.status === 'active') {
    out.push(act('Pause', () => api.patch(`/api/workflows/${id}`, { status: 'paused' }),
      { title: 'No new step starts; a running step finishes first' }));
  }
  const execute = () => api.post(`/api/workflows/${id}/execute`);
  if (status.status === 'paused') out.push(act('Resume', execute, { class: 'primary' }));
  if (['draft', 'completed', 'failed'].includes(status.status)) {
    out.push(act(status.runNumber ? 'Run again' : 'Run', execute, { class: 'primary' }));
  }
  if (status.status === 'active' || status.status === 'paused') {
    out.push(act('Cancel', () => api.post(`/api/workflows/${id}/cancel`), { class: 'danger' }));
  }
  if (status.status !== 'active') {
    const del = button('Delete', () => {
      if (!window.confirm(`Delete the workflow “${status.name}” with its step tasks?`)) return;
      run(del, async () => {
        await api.del(`/api/workflows/${id}`);
        location.hash = '#/workflows';
      }, ctx.errors);
    }, { class: 'danger' });
    out.push(del);
  }
  return h('div', { class: 'row' }, out);
}

function headerView(status, ctx) {
  const definition = definitionOf(status.definition);
  const blueprint = definition._blueprintId;
  return [h('h1', {}, status.name, ' ', badge(status.status)),
    h('p', { class: 'muted' }, `${status.pattern} · `,
      status.runNumber ? `run #${status.runNumber}${status.run ? ` ${status.run.status}` : ''}` : 'never run',
      status.projectId ? [' · project ', link(`/projects/${status.projectId}`, ctx.projectName || 'open it')] : null,
      blueprint ? [' · from blueprint ', link(`/blueprints/${blueprint}`, blueprint),
        definition._blueprintVersion ? ` ${definition._blueprintVersion}` : ''] : null),
    status.run?.error && status.status === 'failed' ? h('p', { class: 'error' }, explain(status.run.error)) : null,
    actions(status, ctx)];
}

export default async function workflowPage(root, { id }, scope) {
  const page = h('div');
  root.append(page);
  const header = h('div');
  const errors = h('div');
  const checkpoint = h('div');
  const steps = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const history = h('div');
  const triggers = h('div');
  page.append(h('p', {}, link('/workflows', '← All workflows')), header, errors, checkpoint,
    section('Steps', steps), workflowDocuments(id), triggers, section('Run history', history));
  const live = new StepTexts(scope, errors);
  let shownCheckpoint = null;
  const ctx = { id, errors, live, refresh: null, idle: false, ran: false, open: new Set() };

  const refresh = async () => {
    const status = await api.get(`/api/workflows/${id}/status`);
    if (status.projectId && ctx.projectOf !== status.projectId) {
      ctx.projectName = await api.get(`/api/projects/${status.projectId}`).then((p) => p.name).catch(() => null);
      ctx.projectOf = status.projectId;
    }
    const waiting = (status.steps || []).find((s) => s.state?.status === 'waiting_approval');
    const request = waiting ? (await api.get('/api/notifications/pending-approvals'))
      .find((item) => item.notificationId === waiting.state.notificationId) : null;
    if (!scope.alive) return;
    ctx.idle = ['draft', 'completed', 'failed'].includes(status.status);
    ctx.ran = Boolean(status.workflowState || status.loopState); // a draft shows no step states
    ctx.open = new Set([...steps.querySelectorAll('details[open]')].map((d) => d.dataset.key));
    live.els.clear();
    clear(header, headerView(status, ctx));
    clear(steps, stepsView(status, ctx));
    for (const taskId of live.els.keys()) live.follow(taskId, false); // each step shown running
    clear(history, historyView(status.runHistory || [], (status.steps || []).length, status.pattern === 'loop'));
    // Re-drawn only when another request waits, so a prompt being edited is not wiped.
    const key = waiting ? `${waiting.state.notificationId}:${Boolean(request)}` : null;
    if (key !== shownCheckpoint) {
      shownCheckpoint = key;
      clear(checkpoint, waiting ? checkpointCard(id, waiting, request, refresh) : null);
    }
  };
  ctx.refresh = refresh;

  // Subscribed, and connected, before the first read of /status: an engine line written after
  // that read reaches the page, and a step task's earlier lines are read after it (StepTexts).
  const later = scope.coalesce(() => refresh().catch((err) => clear(errors, errorBox(err))));
  scope.on('log', (line) => {
    if (line.taskId) {
      live.add(line);
      return;
    }
    if (line.agentType !== ENGINE) return;
    const payload = parsePayload(line.payload);
    if (payload.workflowId !== id) return;
    if (line.event === 'step_started') live.follow(payload.taskId, true);
    if (REFRESH_ON.has(line.event)) later();
  });
  scope.on('notification', later); // a checkpoint answered elsewhere (the Inbox, a channel)
  scope.on('reconnected', later);
  await events.ready();
  try {
    await refresh();
  } catch (err) {
    if (err.status === 404) err.message = 'There is no such workflow; it may have been deleted.';
    clear(page, h('h1', { text: 'Workflow' }), errorBox(err), link('/workflows', 'Back to the workflows'));
    return;
  }
  loadTriggers(id, triggers);
}
