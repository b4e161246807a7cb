// Projects: the list, a create form, and a project page to edit it, see its tasks and start a
// new one there.

import { api } from '../api.js';
import { taskBadge, waitingTaskIds } from '../runs.js';
import { ago, badge, button, clear, empty, errorBox, field, h, link, options, run, section, stacked, toast } from '../ui.js';
import { importView } from './project-import.js';
import { createForm } from './tasks.js';

function projectFields(project = {}) {
  return {
    name: h('input', { type: 'text', name: 'name', required: true, maxlength: 100, value: project.name || '' }),
    description: h('textarea', { name: 'description', maxlength: 500 }, project.description || ''),
    workingDirectory: h('input', { type: 'text', name: 'workingDirectory', maxlength: 500,
      value: project.workingDirectory || '', placeholder: '/home/me/code/app' }),
  };
}

function values(fields) {
  return { name: fields.name.value.trim(), description: fields.description.value.trim() || null,
    workingDirectory: fields.workingDirectory.value.trim() || null };
}

async function list(root, params, scope) {
  const page = h('div');
  root.append(page);
  const body = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const fields = projectFields();
  fields.name.placeholder = 'e.g. Website relaunch';
  const errors = h('div');
  const form = h('form', { 'aria-label': 'New project' }, field('Name', fields.name),
    field('Description', fields.description),
    field('Working directory', fields.workingDirectory, 'The folder its tasks may read; optional'),
    errors, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create project')));

  const load = async () => {
    try {
      const projects = await api.get('/api/projects');
      clear(body, projects.length ? stacked(h('table', {},
        h('thead', {}, h('tr', {}, ['Project', 'Status', 'Tasks', 'Working directory', 'Updated']
          .map((c) => h('th', { text: c })))),
        h('tbody', {}, projects.map((p) => h('tr', {}, h('td', {}, link(`/projects/${p.id}`, p.name)),
          h('td', {}, badge(p.status)), h('td', {}, String(p.taskCount ?? '')),
          h('td', {}, p.workingDirectory ? h('code', {}, p.workingDirectory) : '—'),
          h('td', { class: 'muted' }, ago(p.updatedAt)))))))
        : empty('No projects yet. A project groups tasks and gives them a working directory; create one above.'));
    } catch (err) {
      clear(body, errorBox(err));
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = values(fields);
    run(event.submitter, async () => {
      const project = await api.post('/api/projects', {
        name: data.name, description: data.description || undefined,
        workingDirectory: data.workingDirectory || undefined });
      form.reset();
      toast(`Project “${project.name}” created.`);
      await load();
    }, errors);
  });
  page.append(h('h1', { text: 'Projects' }), h('p', {}, link('/projects/import', 'Import folders from disk…')),
    section('New project', form), section('All projects', body));
  await load();
  scope.on('reconnected', load);
}

async function detail(root, { id }, scope) {
  const page = h('div');
  root.append(page);
  let project;
  try {
    project = await api.get(`/api/projects/${id}`);
  } catch (err) {
    page.append(h('h1', { text: 'Project' }), errorBox(err), link('/projects', 'Back to projects'));
    return;
  }
  const title = h('h1', { text: project.name });
  const fields = projectFields(project);
  const status = h('select', { name: 'status' }, options(['active', 'paused', 'completed'].map((s) => [s, s]),
    project.status));
  const errors = h('div');
  const form = h('form', { 'aria-label': 'Edit project' }, field('Name', fields.name),
    field('Description', fields.description), field('Working directory', fields.workingDirectory,
      'Tasks of this project read files only inside this folder'),
    field('Status', status), errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save changes')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      project = await api.patch(`/api/projects/${id}`, { ...values(fields), status: status.value });
      title.textContent = project.name;
      toast('Project saved.');
    }, errors);
  });
  const tasks = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const loadTasks = async () => {
    try {
      const [rows, waiting] = await Promise.all([api.get(`/api/tasks?projectId=${encodeURIComponent(id)}`),
        waitingTaskIds().catch(() => new Set())]);
      clear(tasks, rows.length ? h('ul', { class: 'plain' }, rows.map((t) => h('li', { class: 'spread' },
        h('span', {}, link(`/tasks/${t.id}`, t.title), ' ', taskBadge(t, waiting)), h('span', { class: 'muted' }, ago(t.updatedAt)))))
        : empty('This project has no tasks yet. Describe one under New task.'));
    } catch (err) {
      clear(tasks, errorBox(err));
    }
  };
  const deleteErrors = h('div');
  const del = button('Delete project', () => {
    if (!window.confirm(`Delete “${project.name}” and everything under it (its tasks too)?`)) return;
    run(del, async () => {
      await api.del(`/api/projects/${id}`);
      location.hash = '#/projects';
    }, deleteErrors);
  }, { class: 'danger' });
  const [models, profiles] = await Promise.all([api.get('/api/chat/models').catch(() => []),
    api.get(`/api/profiles?scope=all&projectId=${encodeURIComponent(id)}`).catch(() => [])]);
  const newTask = createForm({ project, models, profiles, onCreated: (task, started) => {
    if (started) location.hash = `#/tasks/${task.id}`;
    else loadTasks();
  } });
  page.append(title, h('p', {}, link('/projects', '← All projects')), section('Tasks', tasks),
    section('New task', newTask), section('Settings', form), section('Danger zone', del, deleteErrors));
  await loadTasks();
  const later = scope.coalesce(loadTasks);
  scope.on('task', later);
  scope.on('notification', later);
  scope.on('reconnected', later);
}

export default {
  nav: { label: 'Projects', path: '/projects' },
  routes: { '/projects': list, '/projects/import': importView, '/projects/:id': detail },
};
