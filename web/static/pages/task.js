// One task: status and actions (edit too), a pending approval, output (Markdown), cost, and the
// live log.
// The log is the history read page by page (/api/events/logs) followed by the tab's shared
// stream; the shared stream is connected before the history is read, so no line falls between.

import { answerButtons, countdown } from '../approvals.js';
import { api } from '../api.js';
import { ChangesView } from '../changes.js';
import * as events from '../events.js';
import { LogView } from '../logview.js';
import { markdown } from '../markdown.js';
import { PRIORITIES, priorityLabel, startRun } from '../runs.js';
import { badge, button, clear, empty, errorBox, field, h, link, money, options, run, section, toast, when } from '../ui.js';

const LIVE = new Set(['queued', 'running']);
// Lines after which the header, output, cost or approval box may have changed.
const REFRESH_ON = new Set(['started', 'session_resumed', 'usage', 'permission_request', 'permission_response',
  'completed', 'error', 'cancelled', 'file_change']);

// Title, description, priority and model (PATCH /api/tasks/{id}).
function editForm(task, models, done, cancel) {
  const title = h('input', { type: 'text', name: 'title', required: true, maxlength: 200, value: task.title });
  const description = h('textarea', { name: 'description', maxlength: 2000 }, task.description || '');
  const priority = h('select', { name: 'priority' }, options(PRIORITIES.map(([v, label]) => [String(v), label]),
    String(task.priority)));
  const model = h('input', { type: 'text', name: 'model', list: 'edit-task-models', maxlength: 200,
    value: task.modelId || '', placeholder: 'default model' });
  const errors = h('div');
  const form = h('form', { class: 'card', 'aria-label': 'Edit task' }, h('h2', {}, 'Edit task'),
    field('Title', title), field('Description', description),
    h('div', { class: 'row' }, field('Priority', priority), field('Model', model, 'Any LiteLLM model id; empty for the default')),
    h('datalist', { id: 'edit-task-models' }, models.map((m) => h('option', { value: m.id }, m.label))), errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save task'), button('Cancel', cancel)));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      await api.patch(`/api/tasks/${task.id}`, { title: title.value.trim(), description: description.value.trim() || null,
        priority: Number(priority.value), modelId: model.value.trim() || null });
      toast('Task saved.');
      await done();
    }, errors);
  });
  setTimeout(() => title.focus());
  return form;
}

function actions(task, refresh, errors, onEdit) {
  const act = (label, fn, props) => {
    const b = button(label, () => run(b, async () => {
      await fn();
      await refresh();
    }, errors), props);
    return b;
  };
  const out = [];
  if (task.status === 'planned' || task.status === 'queued') out.push(act('Run', () => startRun(task), { class: 'primary' }));
  if (LIVE.has(task.status)) out.push(act('Cancel', () => api.post(`/api/tasks/${task.id}/cancel`), { class: 'danger' }));
  if (task.status === 'failed' || task.status === 'cancelled') {
    out.push(act('Retry', () => startRun(task), { class: 'primary', title: 'Run it again from the start' }));
    if (task.sessionId) {
      out.push(act('Resume', () => api.post(`/api/tasks/${task.id}/resume`),
        { title: 'Continue from where the run stopped' }));
    }
  }
  if (task.status === 'completed') out.push(act('Run again', () => startRun(task)));
  out.push(button('Edit', onEdit, { title: 'Title, description, priority and model' }));
  if (!LIVE.has(task.status)) {
    const del = button('Delete', () => {
      if (!window.confirm(`Delete the task “${task.title}” with its log?`)) return;
      run(del, async () => {
        await api.del(`/api/tasks/${task.id}`);
        location.hash = '#/tasks';
      }, errors);
    }, { class: 'danger' });
    out.push(del);
  }
  return h('div', { class: 'row' }, out);
}

function outputBlock(output) {
  if (output.result === null || output.result === undefined || output.result === '') {
    return empty(LIVE.has(output.status) ? 'The output appears here when the run finishes.'
      : 'No output yet. Run the task to get one.');
  }
  // Model text (markdown or plain) reads as Markdown; code and JSON stay as they are.
  const asText = ['markdown', 'text', 'unknown'].includes(output.contentType);
  return [h('p', { class: 'muted' }, `Content: ${output.contentType}`),
    asText ? markdown(output.result, { 'data-output': true }) : h('pre', { 'data-output': true }, output.result),
    output.status === 'completed' ? saveAsDocument(output.taskId) : null];
}

// Keep the output as a Markdown document of the task's project (a new version each time).
function saveAsDocument(taskId) {
  const note = h('span', { class: 'muted' });
  const save = button('Save as document', () => run(save, async () => {
    const doc = await api.post(`/api/tasks/${taskId}/output/document`);
    clear(note, ' Saved as ', link('/documents', `${doc.originalName} (version ${doc.version})`));
  }));
  return h('p', {}, save, note);
}

function costBlock(provenance) {
  const usage = provenance.timeline.filter((e) => e.type === 'cost');
  return [h('p', { class: 'big' }, money(provenance.totalCost)),
    usage.length ? h('ul', { class: 'plain' }, usage.map((u) => h('li', { class: 'muted' },
      `${u.event}: ${u.detail} (${u.status})`)))
      : h('p', { class: 'muted' }, 'No model calls recorded yet.')];
}

export default async function taskPage(root, { id }, scope) {
  const page = h('div');
  root.append(page);
  const header = h('div');
  const editing = h('div');
  const errors = h('div');
  const approval = h('div');
  const output = section('Output', h('p', { class: 'muted', text: 'Loading…' }));
  const cost = section('Cost', h('p', { class: 'muted', text: 'Loading…' }));
  const view = new LogView();
  const changes = new ChangesView(id);
  page.append(header, editing, errors, approval, h('div', { class: 'grid' }, output, cost), changes.el,
    section('Live log', view.el));


  const names = {}; // projectId -> name, read once
  let models = null;
  let task = null;
  const edit = async () => {
    if (editing.firstChild) {
      clear(editing);
      return;
    }
    models ||= await api.get('/api/chat/models').catch(() => []);
    clear(editing, editForm(task, models, async () => {
      clear(editing);
      await refresh();
    }, () => clear(editing)));
  };

  const refresh = async () => {
    task = await api.get(`/api/tasks/${id}`);
    const [provenance, out] = await Promise.all([api.get(`/api/tasks/${id}/provenance`),
      api.get(`/api/tasks/${id}/output`),
      task.projectId && !names[task.projectId] ? api.get(`/api/projects/${task.projectId}`)
        .then((p) => { names[p.id] = p.name; }).catch(() => {}) : null]);
    if (!scope.alive) return;
    const source = task.workflowId ? ['a step of ', link(`/workflows/${task.workflowId}`, 'its workflow'), ' · ']
      : task.scheduleId ? ['a run of a ', link('/schedules', 'schedule'), ' · '] : '';
    clear(header, h('h1', {}, task.title, ' ', badge(task.status)),
    provenance.pendingApproval ? h('p', { 'data-waiting': true }, badge('waiting', 'waiting for you'),
      ' The run waits for your answer below before it goes on.') : null,
    h('p', { class: 'muted' },
      task.projectId ? ['Project ', link(`/projects/${task.projectId}`, names[task.projectId] || 'its project'), ' · '] : '',
      source, `${priorityLabel(task.priority)} priority · model ${task.modelId || 'default'} · created ${when(task.createdAt)} · updated ${when(task.updatedAt)}`),
    task.description ? h('p', {}, task.description) : null,
    actions(task, refresh, errors, edit));
    clear(output, h('h2', { text: 'Output' }), outputBlock(out));
    clear(cost, h('h2', { text: 'Cost' }), costBlock(provenance));
    changes.safeRefresh(LIVE.has(task.status)); // catches its own errors
    const pending = provenance.pendingApproval;
    if (pending) {
      const item = { notificationId: pending.notificationId, taskId: id, toolName: pending.toolName };
      const slot = h('div');
      clear(approval, section('Waiting for your answer',
        h('div', { class: 'approval' }, h('p', {}, `The agent asks to run ${pending.toolName}:`,
          pending.expiresAt ? [' ', h('span', { class: 'muted' }, '(', countdown(pending.expiresAt), ')')] : null),
          h('pre', {}, pending.toolInput || ''), answerButtons(item, refresh, slot), slot)));
    } else {
      clear(approval);
    }
  };

  // Subscribed before the first read, so a change made meanwhile is never missed. Lines that
  // arrive while the history loads are shown after it (the view skips repeats).
  let buffered = [];
  const later = scope.coalesce(() => refresh().catch((err) => clear(errors, errorBox(err))));
  scope.on('log', (line) => {
    if (line.taskId !== id) return;
    if (buffered) {
      buffered.push(line);
    } else {
      view.el.querySelector('.empty-log')?.remove();
      view.add(line);
    }
    if (REFRESH_ON.has(line.event)) later();
  });
  scope.on('task', (change) => change.taskId === id && later());
  scope.on('reconnected', later);

  try {
    await refresh();
  } catch (err) {
    if (err.status === 404) err.message = 'There is no such task; it may have been deleted.';
    clear(page, h('h1', { text: 'Task' }), errorBox(err), link('/tasks', 'Back to the task list'));
    return;
  }
  await events.ready();
  try {
    await events.history(id, (line) => view.add(line));
  } catch (err) {
    view.el.append(errorBox(err));
  }
  const waiting = buffered;
  buffered = null;
  waiting.forEach((line) => view.add(line));
  if (!view.count) view.el.append(h('p', { class: 'muted empty-log' }, 'No log lines yet. Run the task to see its log here.'));
}
