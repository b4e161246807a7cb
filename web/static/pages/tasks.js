// Tasks: create (and run) a task, and all tasks as a list with filters or as a board by status.
// Workflow steps and scheduled firings are tasks too; they are hidden unless asked for. The task
// page is task.js.

import { api } from '../api.js';
import { documentPicker } from '../documents.js';
import { createAndRun, priorityLabel, taskBadge, waitingTaskIds } from '../runs.js';
import { ago, badge, button, clear, empty, errorBox, field, h, link, options, plural, run, section,
  stacked } from '../ui.js';
import taskPage from './task.js';

const STATUSES = ['planned', 'queued', 'running', 'completed', 'failed', 'cancelled'];
// Workflow step tasks and schedule firings (sourceType workflow / scheduled / heartbeat).
const MACHINE_MADE = new Set(['workflow', 'schedule', 'scheduled', 'heartbeat']);
const machineMade = (t) => MACHINE_MADE.has(t.sourceType) || Boolean(t.workflowId || t.scheduleId);
let view = 'list'; // kept while the tab is open (nothing is stored in the browser)

// The new-task form. `project`: a project the task belongs to (the project page's form), or
// the projects to choose from. `profiles`: the agent profiles to pick from (GET /api/profiles);
// none picked, the run picks one from the task's words.
export function createForm({ projects = [], project = null, models = [], profiles = [], onCreated }) {
  const title = h('input', { type: 'text', name: 'title', required: true, maxlength: 200,
    placeholder: 'e.g. Write a haiku about SQLite' });
  const description = h('textarea', { name: 'description', maxlength: 2000,
    placeholder: 'What should the agent do, and what should it hand back?' });
  const projectPicker = project ? null : h('select', { name: 'project' }, options([['', 'No project'],
    ...projects.map((p) => [p.id, p.name])]));
  const listId = `task-models-${Math.random().toString(36).slice(2, 8)}`;
  const model = h('input', { type: 'text', name: 'model', list: listId, maxlength: 200,
    placeholder: 'default model' });
  const list = h('datalist', { id: listId }, models.map((m) => h('option', { value: m.id }, m.label)));
  const documents = documentPicker({ legend: 'Attach documents',
    hint: 'Small documents go into the prompt whole; the agent reads larger ones with its document tools.' });
  const profilePicker = h('select', { name: 'profile' }, options([['', 'Pick from the task'],
    ...profiles.map((p) => [p.id, p.scope && p.scope !== 'builtin' ? `${p.name} (${p.scope})` : p.name])]));
  const errors = h('div');
  const runButton = h('button', { type: 'submit', class: 'primary', value: 'run' }, 'Create and run');
  const saveButton = h('button', { type: 'submit', value: 'save' }, 'Create only');
  const form = h('form', { 'aria-label': 'New task' }, field('Title', title), field('Description', description),
    h('div', { class: 'row' }, projectPicker ? field('Project', projectPicker) : null,
      field('Model', model, 'Any LiteLLM model id'),
      field('Profile', profilePicker, 'Shapes the agent: instructions, tools, model')),
    documents.el,
    list, errors, h('div', { class: 'actions' }, runButton, saveButton));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const runIt = event.submitter !== saveButton;
    const fields = { title: title.value.trim(), description: description.value.trim() || undefined,
      projectId: project ? project.id : projectPicker.value || undefined, modelId: model.value.trim() || undefined,
      documentIds: documents.selected().length ? documents.selected() : undefined,
      agentProfile: profilePicker.value || undefined };
    run(event.submitter, async () => {
      try {
        const task = await createAndRun(fields, { run: runIt });
        form.reset();
        documents.reset();
        onCreated(task, runIt);
      } catch (err) {
        if (err.task) onCreated(err.task, false);
        throw err;
      }
    }, errors);
  });
  return form;
}

function listView(tasks, names, waiting) {
  return stacked(h('table', {}, h('thead', {}, h('tr', {}, ['Task', 'Status', 'Project', 'Updated']
    .map((c) => h('th', { text: c })))),
  h('tbody', {}, tasks.map((t) => h('tr', { 'data-task': t.id },
    h('td', {}, link(`/tasks/${t.id}`, t.title), t.priority < 2 ? [' ', badge('warn', priorityLabel(t.priority))] : null),
    h('td', {}, taskBadge(t, waiting)),
    h('td', {}, t.projectId ? link(`/projects/${t.projectId}`, names[t.projectId] || 'a project') : '—'),
    h('td', { class: 'muted' }, ago(t.updatedAt)))))));
}

function boardView(tasks, names, waiting) {
  return h('div', { class: 'board', role: 'list', 'aria-label': 'Tasks by status' }, STATUSES.map((status) => {
    const cards = tasks.filter((t) => t.status === status);
    return h('section', { class: 'column', role: 'listitem', 'data-column': status, 'aria-label': status },
      h('h3', {}, h('span', {}, badge(status)), h('span', { class: 'muted' }, String(cards.length))),
      cards.length ? h('ul', {}, cards.map((t) => h('li', { 'data-task': t.id },
        link(`/tasks/${t.id}`, t.title),
        waiting.has(t.id) ? h('div', {}, taskBadge(t, waiting)) : null,
        h('div', { class: 'muted' }, [t.projectId ? names[t.projectId] || 'a project' : null,
          t.priority < 2 ? priorityLabel(t.priority) : null, ago(t.updatedAt)].filter(Boolean).join(' · ')))))
        : h('p', { class: 'muted' }, 'None.'));
  }));
}

async function list(root, params, scope) {
  const page = h('div');
  root.append(page);
  page.append(h('h1', { text: 'Tasks' }));
  const [projects, models, profiles] = await Promise.all([api.get('/api/projects'),
    api.get('/api/chat/models').catch(() => []), api.get('/api/profiles').catch(() => [])]);
  const names = Object.fromEntries(projects.map((p) => [p.id, p.name]));

  const search = h('input', { type: 'search', placeholder: 'Search titles (press /)', 'aria-label': 'Search tasks',
    'data-slash': true });
  const status = h('select', { 'aria-label': 'Status' }, options([['', 'Any status'], ...STATUSES.map((s) => [s, s])]));
  const project = h('select', { 'aria-label': 'Project' }, options([['', 'Any project'],
    ...projects.map((p) => [p.id, p.name])]));
  const showAll = h('input', { type: 'checkbox', name: 'machine-made' });
  const hiddenCount = h('span', { class: 'muted' });
  const listButton = button('List', () => setView('list'));
  const boardButton = button('Board', () => setView('board'));
  const body = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  let tasks = [];
  let waiting = new Set();
  let loaded = false;

  function setView(next) {
    view = next;
    listButton.setAttribute('aria-pressed', String(view === 'list'));
    boardButton.setAttribute('aria-pressed', String(view === 'board'));
    status.hidden = view === 'board'; // the board shows every status side by side
    if (view === 'board' && status.value) {
      status.value = '';
      load();
    } else {
      draw();
    }
  }

  const draw = () => {
    if (!loaded) return;
    const words = search.value.trim().toLowerCase();
    const mine = showAll.checked ? tasks : tasks.filter((t) => !machineMade(t));
    const hidden = tasks.length - mine.length;
    hiddenCount.textContent = hidden && !showAll.checked ? `(${hidden} hidden)` : '';
    const shown = mine.filter((t) => !words || t.title.toLowerCase().includes(words));
    if (!tasks.length) {
      clear(body, empty(status.value || project.value ? 'No task matches these filters.'
        : 'No tasks yet. Describe one above and press “Create and run”.'));
      return;
    }
    if (!mine.length) {
      clear(body, empty(`Only workflow steps and scheduled runs here (${plural(hidden, 'task')}). ` +
        'Tick “Show workflow steps and scheduled runs” to see them.'));
      return;
    }
    if (!shown.length) {
      clear(body, empty('No task title contains these words.'));
      return;
    }
    clear(body, view === 'board' ? boardView(shown, names, waiting) : listView(shown, names, waiting));
  };
  const load = async () => {
    const query = new URLSearchParams();
    if (status.value) query.set('status', status.value);
    if (project.value) query.set('projectId', project.value);
    try {
      [tasks, waiting] = await Promise.all([api.get(`/api/tasks?${query}`), waitingTaskIds().catch(() => new Set())]);
      loaded = true;
      if (scope.alive) draw();
    } catch (err) {
      clear(body, errorBox(err));
    }
  };
  search.addEventListener('input', draw);
  status.addEventListener('change', load);
  project.addEventListener('change', load);
  showAll.addEventListener('change', draw);

  page.append(section('New task', createForm({ projects, models, profiles, onCreated: (task, started) => {
    if (started) location.hash = `#/tasks/${task.id}`;
    else load();
  } })), section('All tasks',
    h('div', { class: 'toolbar', role: 'search' },
      h('span', { class: 'segmented', role: 'group', 'aria-label': 'View' }, listButton, boardButton),
      search, status, project, button('Refresh', load)),
    h('div', { class: 'toolbar' }, h('label', { class: 'inline' }, showAll, 'Show workflow steps and scheduled runs'),
      hiddenCount),
    body));
  setView(view);
  await load();
  const later = scope.coalesce(load);
  scope.on('task', later);
  scope.on('notification', later); // a run starts or stops waiting for an answer
  scope.on('reconnected', later);
}

export default {
  nav: { label: 'Tasks', path: '/tasks' },
  routes: { '/tasks': list, '/tasks/:id': taskPage },
};
