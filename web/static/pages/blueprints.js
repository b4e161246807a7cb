// Blueprints: ready-made workflows. The gallery, and a blueprint's page with its variables as a
// typed form; "Create workflow" instantiates it and opens the new workflow.

import { api } from '../api.js';
import { badge, button, clear, empty, errorBox, field, h, link, options, run, section, toast, when } from '../ui.js';

function tags(bp) {
  return (bp.tags || []).map((t) => h('span', { class: 'tag' }, t));
}

function card(bp) {
  return h('article', { class: 'card blueprint', 'data-blueprint': bp.id },
    h('h2', {}, link(`/blueprints/${bp.id}`, bp.name)),
    h('p', {}, bp.description || ''),
    h('div', { class: 'row' }, badge(bp.pattern), bp.isBuiltin ? badge('built-in') : badge('yours'), tags(bp)),
    h('p', { class: 'muted' }, `${bp.steps.length} steps · ${bp.variables.length} fields to fill in · `,
      bp.instanceCount ? `used ${bp.instanceCount} time${bp.instanceCount === 1 ? '' : 's'}` : 'not used yet'));
}

export async function gallery(root) {
  const page = h('div');
  root.append(page);
  page.append(h('h1', { text: 'Blueprints' }), h('p', {}, link('/workflows', '← All workflows')),
    h('p', { class: 'muted' },
      'Ready-made workflows: pick one, fill in a few fields, and it becomes a workflow you can run.'));
  const blueprints = await api.get('/api/blueprints');
  page.append(blueprints.length ? h('div', { class: 'grid' }, blueprints.map(card))
    : empty('No blueprints. Put blueprint YAML files in the blueprints folder of the data directory.'));
}

// ---- one blueprint -------------------------------------------------------------------------------

// A form control for one variable, and how to read its value back.
function control(v) {
  const id = `var-${v.id}`;
  const common = { id, name: v.id, 'aria-required': v.required ? 'true' : null };
  let el;
  let read = () => el.value;
  switch (v.type) {
    case 'textarea':
      el = h('textarea', { ...common, rows: 4, placeholder: v.placeholder }, v.default ?? '');
      break;
    case 'select': {
      const choices = v.options.map((o) => [o.value, o.label]);
      el = h('select', common, options(v.default === undefined ? [['', 'Choose…'], ...choices] : choices,
        v.default === undefined ? '' : String(v.default)));
      break;
    }
    case 'number':
      el = h('input', { ...common, type: 'number', min: v.min, max: v.max, step: 'any', value: v.default ?? '',
        placeholder: v.placeholder });
      break;
    case 'boolean':
      el = h('input', { ...common, type: 'checkbox', checked: v.default === true });
      read = () => el.checked;
      return { read, el: h('div', { class: 'field' }, h('label', { class: 'inline' }, el, v.label),
        v.description ? h('span', { class: 'hint' }, v.description) : null) };
    default: // text, and file: a path on this computer
      el = h('input', { ...common, type: 'text', value: v.default ?? '',
        placeholder: v.placeholder || (v.type === 'file' ? 'A path on this computer' : null) });
  }
  const range = v.type === 'number' && (v.min !== undefined || v.max !== undefined)
    ? `from ${v.min ?? '…'} to ${v.max ?? '…'}` : null;
  const hint = [v.description, range, v.required ? 'required' : 'optional'].filter(Boolean).join(' · ');
  return { read, el: field(v.label, el, hint) };
}

// Variable ids (`draftEmail`) are for the YAML; the page names a variable by its label.
function labeller(bp) {
  const labels = Object.fromEntries(bp.variables.map((v) => [v.id, v.label || v.id]));
  const name = (id) => (labels[id] ? `“${labels[id]}”` : id);
  return {
    // "{{draftEmail}}" in a template -> "[Draft a follow-up email]"
    template: (text) => String(text || '').replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (m, id) => (labels[id] ? `[${labels[id]}]` : m)),
    // The daemon's 400: 'Missing required variable: topic', 'Variable "depth" must be …'
    message: (text) => String(text)
      .replace(/(Missing required variables?: )([\w.-]+(?:, [\w.-]+)*)/g, (m, lead, list) => lead + list.split(', ').map(name).join(', '))
      .replace(/Variable "([^"]+)"/g, (m, id) => (labels[id] ? name(id) : m)),
    condition: (text) => {
      const id = String(text).replace(/[{}\s]/g, '');
      const v = bp.variables.find((x) => x.id === id);
      if (!v) return `Only when ${id} is set`;
      return v.type === 'boolean' ? `Only when “${v.label}” is ticked` : `Only when “${v.label}” is filled in`;
    },
  };
}

function stepList(bp, names) {
  return h('ol', { class: 'steps' }, bp.steps.map((s) => h('li', { class: 'step' },
    h('strong', {}, s.name), ' ', h('span', { class: 'muted' }, `profile ${s.profileId}`),
    s.requiresApproval ? [' ', h('span', { class: 'badge badge-checkpoint' }, 'checkpoint')] : null,
    s.condition ? h('div', { class: 'muted' }, names.condition(s.condition)) : null,
    h('details', {}, h('summary', {}, 'Prompt template'), h('pre', {}, names.template(s.promptTemplate)),
      s.expectedOutput ? h('p', { class: 'muted' }, `Expected output: ${s.expectedOutput}`) : null))));
}

async function lineage(id, box) {
  try {
    const { workflows } = await api.get(`/api/blueprints/${encodeURIComponent(id)}/lineage`);
    clear(box, workflows.length ? h('ul', { class: 'plain' }, workflows.map((w) => h('li', { class: 'spread' },
      h('span', {}, link(`/workflows/${w.id}`, w.name), ' ', badge(w.status)),
      h('span', { class: 'muted' }, `version ${w.blueprintVersion || '?'} · ${when(w.createdAt)}`))))
      : empty('No workflow has been made from it yet.'));
  } catch (err) {
    clear(box, errorBox(err));
  }
}

export async function blueprintPage(root, { id }) {
  const page = h('div');
  root.append(page);
  let bp;
  let projects;
  try {
    [bp, projects] = await Promise.all([api.get(`/api/blueprints/${encodeURIComponent(id)}`), api.get('/api/projects')]);
  } catch (err) {
    if (err.status === 404) err.message = 'There is no such blueprint; it may have been deleted.';
    page.append(h('h1', { text: 'Blueprint' }), errorBox(err), link('/blueprints', 'Back to the blueprints'));
    return;
  }
  const names = labeller(bp);
  const controls = bp.variables.map((v) => ({ v, ...control(v) }));
  const project = h('select', { name: 'project' }, options([['', 'No project'], ...projects.map((p) => [p.id, p.name])]));
  const errors = h('div');
  // novalidate: the daemon checks the values and says what is wrong, every problem at once.
  const form = h('form', { 'aria-label': 'Fill in the blueprint', novalidate: true }, controls.map((c) => c.el),
    field('Project', project), errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create workflow')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const variables = Object.fromEntries(controls.map(({ v, read }) => [v.id, read()]));
      let made;
      try {
        made = await api.post(`/api/blueprints/${encodeURIComponent(id)}/instantiate`,
          { variables, projectId: project.value || undefined });
      } catch (err) {
        err.message = names.message(err.message); // the daemon names variables by id
        throw err;
      }
      const skipped = made.skippedSteps.length ? ` Skipped: ${made.skippedSteps.join(', ')}.` : '';
      toast(`Workflow “${made.name}” created with ${made.stepsCount} steps.${skipped}`);
      location.hash = `#/workflows/${made.id}`;
    }, errors);
  });
  const made = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const deleteErrors = h('div');
  const del = bp.isBuiltin ? null : button('Delete blueprint', () => {
    if (!window.confirm(`Delete the blueprint “${bp.name}”? Workflows made from it stay.`)) return;
    run(del, async () => {
      await api.del(`/api/blueprints/${encodeURIComponent(id)}`);
      location.hash = '#/blueprints';
    }, deleteErrors);
  }, { class: 'danger' });
  page.append(h('h1', {}, bp.name), h('p', {}, link('/blueprints', '← All blueprints')),
    h('p', {}, bp.description || ''),
    h('div', { class: 'row' }, badge(bp.pattern), bp.isBuiltin ? badge('built-in') : badge('yours'),
      h('span', { class: 'muted' }, `version ${bp.version} · ${bp.domain}`), tags(bp)),
    h('div', { class: 'grid' }, section('Fill in', form), section(`Steps (${bp.steps.length})`, stepList(bp, names))),
    section('Workflows made from it', made));
  if (del) page.append(section('Danger zone', del, deleteErrors));
  await lineage(id, made);
}
