// The triggers editor: what a row added, updated or deleted starts (a task, or a workflow run),
// when a condition holds; pause, resume, delete; how often each fired or was held back.

import { api } from '../api.js';
import { ago, badge, button, clear, empty, errorBox, field, h, options, plural, run } from '../ui.js';
import { OPERATORS } from './filters.js';

const EVENTS = [['row_added', 'a row is added'], ['row_updated', 'a row is updated'], ['row_deleted', 'a row is deleted']];

function describe(t, ctx) {
  const event = Object.fromEntries(EVENTS)[t.triggerEvent];
  const filters = t.condition ? (Array.isArray(t.condition) ? t.condition : [t.condition]) : [];
  const name = (c) => (ctx.columns.find((col) => col.name === c) || { displayName: c }).displayName;
  const when = filters.length ? ` and ${filters.map((f) => `${name(f.column)} ${f.operator} ${f.value ?? ''}`.trim()).join(' and ')}` : '';
  const action = t.actionType === 'create_task' ? `create the task "${t.actionConfig.title}"` : 'run a workflow';
  return `When ${event}${when}: ${action}.`;
}

function triggerItem(t, ctx, reload, errors) {
  const base = `/api/tables/${ctx.table.id}/triggers`;
  const next = t.status === 'active' ? 'paused' : 'active';
  const toggle = button(t.status === 'active' ? 'Pause' : 'Resume', () => run(toggle, async () => {
    await api.patch(base, { triggerId: t.id, status: next });
    await reload();
  }, errors));
  const remove = button('Delete', () => run(remove, async () => {
    await api.del(`${base}/${t.id}`);
    await reload();
  }, errors), { class: 'danger' });
  return h('li', { 'data-trigger': t.id }, h('strong', { text: t.name }), ' ', badge(t.status), ' ',
    h('span', {}, describe(t, ctx)), h('br'),
    h('span', { class: 'muted' }, `Fired ${plural(t.fireCount, 'time')}${t.lastFiredAt ? `, last ${ago(t.lastFiredAt)}` : ''}`
      + `${t.skippedCount ? `; ${t.skippedCount} held back by the storm limit` : ''}`
      + `${t.lastError ? `; last error: ${t.lastError}` : ''}`), ' ', toggle, ' ', remove);
}

export async function triggersPanel(box, ctx) {
  const list = h('div');
  const errors = h('div');
  async function reload() {
    try {
      const triggers = await api.get(`/api/tables/${ctx.table.id}/triggers`);
      clear(list, triggers.length ? h('ul', { class: 'plain' }, triggers.map((t) => triggerItem(t, ctx, reload, errors)))
        : empty('No triggers. A trigger starts a task or a workflow when rows change.'));
    } catch (err) {
      clear(list, errorBox(err));
    }
  }
  const workflows = await api.get('/api/workflows').catch(() => []);
  const name = h('input', { type: 'text', required: true, maxlength: 256, 'aria-label': 'Trigger name' });
  const event = h('select', { 'aria-label': 'When' }, options(EVENTS));
  const cColumn = h('select', { 'aria-label': 'Condition column' }, h('option', { value: '' }, 'always'),
    options(ctx.columns.map((c) => [c.name, c.displayName])));
  const cOp = h('select', { 'aria-label': 'Condition operator' }, options(OPERATORS));
  const cValue = h('input', { type: 'text', 'aria-label': 'Condition value' });
  const action = h('select', { 'aria-label': 'Then' }, options([['create_task', 'create a task'],
    ['run_workflow', 'run a workflow']]));
  const title = h('input', { type: 'text', maxlength: 200, 'aria-label': 'Task title',
    placeholder: 'e.g. Welcome {{name}}' });
  const description = h('textarea', { 'aria-label': 'Task description', maxlength: 20000,
    placeholder: 'What should the agent do with the row?' });
  const workflow = h('select', { 'aria-label': 'Workflow' }, options(workflows.map((w) => [w.id, w.name])));
  const taskFields = h('div', {}, field('Task title', title, '{{column}} is replaced by the row\'s value'),
    field('Task description', description));
  const workflowFields = h('div', { hidden: true }, field('Workflow', workflow));
  action.addEventListener('change', () => {
    taskFields.hidden = action.value !== 'create_task';
    workflowFields.hidden = action.value !== 'run_workflow';
  });
  const form = h('form', { 'aria-label': 'New trigger' }, field('Name', name),
    h('div', { class: 'row' }, field('When', event), field('Only if', cColumn), cOp, cValue),
    field('Then', action), taskFields, workflowFields, errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Add trigger')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    run(ev.submitter, async () => {
      const column = ctx.columns.find((c) => c.name === cColumn.value);
      let condition = null;
      if (column) {
        const raw = cValue.value.trim();
        condition = { column: column.name, operator: cOp.value };
        if (!['is_empty', 'is_not_empty'].includes(cOp.value)) {
          condition.value = cOp.value === 'in' ? raw.split(',').map((s) => s.trim())
            : column.dataType === 'number' && raw !== '' ? Number(raw) : raw;
        }
      }
      const actionConfig = action.value === 'create_task'
        ? { title: title.value.trim(), description: description.value.trim() || undefined }
        : { workflowId: workflow.value };
      await api.post(`/api/tables/${ctx.table.id}/triggers`, { name: name.value.trim(), triggerEvent: event.value,
        actionType: action.value, actionConfig, condition });
      form.reset();
      await reload();
    }, errors);
  });
  clear(box, h('p', { class: 'muted' }, 'A bulk change starts at most 5 runs per trigger (20 a minute); the rest are held back and you are told.'),
    list, form);
  await reload();
}
