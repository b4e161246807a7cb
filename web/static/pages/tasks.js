// Tasks: create (and run) a task, and the list with filters. The task page is task.js.

import { api } from '../api.js';
import { createAndRun } from '../runs.js';
import { ago, badge, button, clear, empty, errorBox, field, h, link, options, run, section } from '../ui.js';
import taskPage from './task.js';

const STATUSES = ['planned', 'queued', 'running', 'completed', 'failed', 'cancelled'];

function createForm(projects, models, onCreated) {
  const title = h('input', { type: 'text', name: 'title', required: true, maxlength: 200,
    placeholder: 'e.g. Write a haiku about SQLite' });
  const description = h('textarea', { name: 'description', maxlength: 2000,
    placeholder: 'What should the agent do, and what should it hand back?' });
  const project = h('select', { name: 'project' }, options([['', 'No project'],
    ...projects.map((p) => [p.id, p.name])]));
  const model = h('input', { type: 'text', name: 'model', list: 'task-models', maxlength: 200,
    placeholder: 'default model' });
  const list = h('datalist', { id: 'task-models' }, models.map((m) => h('option', { value: m.id }, m.label)));
  const errors = h('div');
  const runButton = h('button', { type: 'submit', class: 'primary', value: 'run' }, 'Create and run');
  const saveButton = h('button', { type: 'submit', value: 'save' }, 'Create only');
  const form = h('form', { 'aria-label': 'New task' }, field('Title', title), field('Description', description),
    h('div', { class: 'row' }, field('Project', project), field('Model', model, 'Any LiteLLM model id')),
    list, errors, h('div', { class: 'actions' }, runButton, saveButton));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const runIt = event.submitter !== saveButton;
    const fields = { title: title.value.trim(), description: description.value.trim() || undefined,
      projectId: project.value || undefined, modelId: model.value.trim() || undefined };
    run(event.submitter, async () => {
      try {
        const task = await createAndRun(fields, { run: runIt });
        form.reset();
        onCreated(task, runIt);
      } catch (err) {
        if (err.task) onCreated(err.task, false);
        throw err;
      }
    }, errors);
  });
  return form;
}

async function list(root, params, scope) {
  const page = h('div');
  root.append(page);
  page.append(h('h1', { text: 'Tasks' }));
  const [projects, models] = await Promise.all([api.get('/api/projects'),
    api.get('/api/chat/models').catch(() => [])]);
  const names = Object.fromEntries(projects.map((p) => [p.id, p.name]));

  const search = h('input', { type: 'search', placeholder: 'Search titles (press /)', 'aria-label': 'Search tasks',
    'data-slash': true });
  const status = h('select', { 'aria-label': 'Status' }, options([['', 'Any status'], ...STATUSES.map((s) => [s, s])]));
  const project = h('select', { 'aria-label': 'Project' }, options([['', 'Any project'],
    ...projects.map((p) => [p.id, p.name])]));
  const body = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  let tasks = [];

  const draw = () => {
    const words = search.value.trim().toLowerCase();
    const shown = tasks.filter((t) => !words || t.title.toLowerCase().includes(words));
    if (!tasks.length) {
      clear(body, empty(status.value || project.value ? 'No task matches these filters.'
        : 'No tasks yet. Describe one above and press “Create and run”.'));
      return;
    }
    if (!shown.length) {
      clear(body, empty('No task title contains these words.'));
      return;
    }
    clear(body, h('table', {}, h('thead', {}, h('tr', {}, ['Task', 'Status', 'Project', 'Updated']
      .map((c) => h('th', { text: c })))),
    h('tbody', {}, shown.map((t) => h('tr', {},
      h('td', {}, link(`/tasks/${t.id}`, t.title)), h('td', {}, badge(t.status)),
      h('td', {}, t.projectId ? link(`/projects/${t.projectId}`, names[t.projectId] || 'project') : '—'),
      h('td', { class: 'muted' }, ago(t.updatedAt)))))));
  };
  const load = async () => {
    const query = new URLSearchParams();
    if (status.value) query.set('status', status.value);
    if (project.value) query.set('projectId', project.value);
    try {
      tasks = await api.get(`/api/tasks?${query}`);
      draw();
    } catch (err) {
      clear(body, errorBox(err));
    }
  };
  search.addEventListener('input', draw);
  status.addEventListener('change', load);
  project.addEventListener('change', load);

  page.append(section('New task', createForm(projects, models, (task, started) => {
    if (started) location.hash = `#/tasks/${task.id}`;
    else load();
  })), section('All tasks', h('div', { class: 'row', role: 'search' }, search, status, project,
    button('Refresh', load)), body));
  await load();
  const later = scope.coalesce(load);
  scope.on('task', later);
  scope.on('reconnected', later);
}

export default {
  nav: { label: 'Tasks', path: '/tasks' },
  routes: { '/tasks': list, '/tasks/:id': taskPage },
};
