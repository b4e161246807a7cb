// Workflows: the list, a form to create one step by step, the workflow page (workflow.js) and
// the blueprints gallery (blueprints.js), all under the Workflows nav entry.

import { api } from '../api.js';
import { ago, badge, button, clear, empty, errorBox, field, h, link, options, run, section, stacked, toast } from '../ui.js';
import { blueprintPage, gallery } from './blueprints.js';
import workflowPage from './workflow.js';
import { PATTERNS, definitionOf } from './workflow-steps.js';

const GATES = new Set(['sequence', 'checkpoint', 'planner-executor']); // the patterns that take checkpoints

// The role of the i-th of n steps in a pattern, as the form labels it.
function role(pattern, i, n) {
  if (pattern === 'planner-executor') return i === 0 ? 'Planner' : `Executor ${i}`;
  if (pattern === 'parallel') return i === n - 1 ? 'Synthesis' : `Branch ${i + 1}`;
  if (pattern === 'swarm') return i === 0 ? 'Mayor' : i === n - 1 ? 'Refinery' : `Worker ${i}`;
  if (pattern === 'loop') return 'The prompt to repeat';
  return `Step ${i + 1}`;
}

function stepRow(onRemove) {
  const row = {
    name: h('input', { type: 'text', maxlength: 200, placeholder: 'e.g. Gather sources' }),
    prompt: h('textarea', { maxlength: 20000, rows: 3, placeholder: 'What this step does' }),
    gate: h('input', { type: 'checkbox' }),
    legend: h('legend'),
  };
  row.gateLabel = h('label', { class: 'inline' }, row.gate, 'Ask me before this step runs');
  row.remove = button('Remove step', () => onRemove(row));
  row.el = h('fieldset', { class: 'step-form' }, row.legend, field('Name', row.name), field('Prompt', row.prompt),
    h('div', { class: 'spread' }, row.gateLabel, row.remove));
  return row;
}

function createForm(projects, onCreated) {
  const name = h('input', { type: 'text', name: 'name', maxlength: 200, placeholder: 'e.g. Weekly competitor scan' });
  const pattern = h('select', { name: 'pattern' }, options(PATTERNS.map(([id, label]) => [id, label]), 'sequence'));
  const patternHint = h('span', { class: 'hint' });
  const project = h('select', { name: 'project' }, options([['', 'No project'], ...projects.map((p) => [p.id, p.name])]));
  const maxIterations = h('input', { type: 'number', min: 1, max: 100, value: 5, name: 'maxIterations' });
  const loopField = field('Max iterations', maxIterations, 'It stops earlier when the agent writes LOOP_COMPLETE');
  const rows = [];
  const list = h('div');
  const add = button('Add step', () => {
    rows.push(stepRow(remove));
    layout();
    rows[rows.length - 1].name.focus();
  });
  const errors = h('div');

  function remove(row) {
    rows.splice(rows.indexOf(row), 1);
    layout();
  }
  function layout() {
    const p = pattern.value;
    patternHint.textContent = PATTERNS.find(([id]) => id === p)[2];
    loopField.hidden = p !== 'loop';
    add.hidden = p === 'loop';
    rows.forEach((row, i) => {
      row.legend.textContent = role(p, i, rows.length);
      row.gateLabel.hidden = !GATES.has(p);
      row.remove.hidden = rows.length === 1;
      row.el.hidden = p === 'loop' && i > 0;
    });
    clear(list, rows.map((r) => r.el));
  }
  function definition() {
    const p = pattern.value;
    const used = p === 'loop' ? rows.slice(0, 1) : rows;
    const steps = used.map((row, i) => ({ id: `step-${i + 1}`, name: row.name.value.trim() || `Step ${i + 1}`,
      prompt: row.prompt.value.trim(), requiresApproval: GATES.has(p) && row.gate.checked }));
    if (p === 'parallel' && steps.length > 1) steps[steps.length - 1].dependsOn = steps.slice(0, -1).map((s) => s.id);
    const out = { pattern: p, steps };
    if (p === 'loop') out.loopConfig = { maxIterations: Number(maxIterations.value) };
    return out;
  }

  rows.push(stepRow(remove), stepRow(remove));
  pattern.addEventListener('change', layout);
  layout();
  const form = h('form', { 'aria-label': 'New workflow', novalidate: true }, field('Name', name),
    field('Pattern', pattern), patternHint, loopField, field('Project', project), list,
    h('div', { class: 'row' }, add), errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create workflow')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const workflow = await api.post('/api/workflows', { name: name.value.trim(), definition: definition(),
        projectId: project.value || undefined });
      toast(`Workflow “${workflow.name}” created.`);
      onCreated(workflow);
    }, errors);
  });
  return form;
}

function workflowRow(w, names) {
  const definition = definitionOf(w.definition);
  return h('tr', { 'data-workflow': w.name },
    h('td', {}, link(`/workflows/${w.id}`, w.name),
      w.projectId ? h('div', { class: 'muted' }, 'project ', link(`/projects/${w.projectId}`, names[w.projectId] || 'open it'))
        : null,
      definition._blueprintId ? h('div', { class: 'muted' }, `from ${definition._blueprintId}`) : null),
    h('td', {}, definition.pattern || '—'), h('td', {}, badge(w.status)),
    h('td', {}, w.runNumber ? `#${w.runNumber}` : 'never run'),
    h('td', {}, String((definition.steps || []).length)),
    h('td', { class: 'muted' }, ago(w.updatedAt)));
}

async function list(root, params, scope) {
  const page = h('div');
  root.append(page);
  page.append(h('h1', { text: 'Workflows' }), h('p', { class: 'muted' },
    'Several agent steps that run as one: in sequence, side by side, in a loop, with your approval in between.'),
  h('div', { class: 'row' }, link('/blueprints', 'Browse blueprints', { class: 'button' })));
  const projects = await api.get('/api/projects');
  const names = Object.fromEntries(projects.map((p) => [p.id, p.name]));
  const body = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const load = async () => {
    try {
      const rows = await api.get('/api/workflows');
      clear(body, rows.length ? stacked(h('table', {}, h('thead', {}, h('tr', {},
        ['Workflow', 'Pattern', 'Status', 'Run', 'Steps', 'Updated'].map((c) => h('th', { text: c })))),
      h('tbody', {}, rows.map((w) => workflowRow(w, names)))))
        : empty('No workflows yet. Start from a blueprint (a ready-made workflow you fill in), or describe ' +
          'the steps under New workflow below.', link('/blueprints', 'Browse blueprints')));
    } catch (err) {
      clear(body, errorBox(err));
    }
  };
  page.append(section('All workflows', body),
    section('New workflow', createForm(projects, (w) => { location.hash = `#/workflows/${w.id}`; })));
  await load();
  const later = scope.coalesce(load, 1000);
  scope.on('task', later); // step tasks start and end: a workflow's status or run changed
  scope.on('reconnected', later);
}

export default {
  nav: { label: 'Workflows', path: '/workflows' },
  routes: { '/workflows': list, '/workflows/:id': workflowPage, '/blueprints': gallery, '/blueprints/:id': blueprintPage },
};
