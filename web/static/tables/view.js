// One table (#/tables/<id>): the grid with inline editing, the filter and sort bar with saved
// views, and the tools: add a row or a column, import, export, triggers, charts, history, save
// as a template.

import { api } from '../api.js';
import { button, clear, errorBox, field, h, link, options, plural, run, toast } from '../ui.js';
import { chartsPanel } from './charts.js';
import { queryBar } from './filters.js';
import { grid } from './grid.js';
import { showHistory } from './history.js';
import { importWizard } from './importer.js';
import { triggersPanel } from './triggers.js';

const TYPES = ['text', 'number', 'date', 'boolean', 'select', 'url', 'email', 'relation', 'computed'];
const CATEGORIES = [['business', 'Business'], ['personal', 'Personal'], ['pm', 'Project management'],
  ['finance', 'Finance'], ['content', 'Content']];
const PAGE_ROWS = 200;

function columnForm(ctx, done) {
  const name = h('input', { type: 'text', required: true, maxlength: 64, 'aria-label': 'Column key',
    placeholder: 'e.g. due_date' });
  const display = h('input', { type: 'text', maxlength: 128, 'aria-label': 'Column title', placeholder: 'e.g. Due date' });
  const type = h('select', { 'aria-label': 'Column type' }, options(TYPES.map((t) => [t, t])));
  const choices = h('input', { type: 'text', 'aria-label': 'Choices', placeholder: 'comma separated (select)' });
  const formula = h('input', { type: 'text', 'aria-label': 'Formula', placeholder: 'e.g. {{price}} * {{qty}} (computed)' });
  const target = h('select', { 'aria-label': 'Related table' });
  api.get('/api/tables').then((tables) => clear(target, options(tables.map((t) => [t.id, t.name])))).catch(() => {});
  const errors = h('div');
  const form = h('form', { 'aria-label': 'New column' }, h('div', { class: 'row' }, field('Title', display),
    field('Key', name, 'the name in row data and filters'), field('Type', type)),
  h('div', { class: 'row' }, field('Choices', choices), field('Formula', formula), field('Related table', target)),
  errors, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Add column')));
  display.addEventListener('input', () => {
    if (!name.dataset.touched) name.value = display.value.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
  });
  name.addEventListener('input', () => { name.dataset.touched = '1'; });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const body = { name: name.value.trim(), displayName: display.value.trim() || name.value.trim(), dataType: type.value };
      if (type.value === 'select') body.config = { options: choices.value.split(',').map((s) => s.trim()).filter(Boolean) };
      if (type.value === 'computed') body.config = { formula: formula.value.trim(), formulaType: 'arithmetic' };
      if (type.value === 'relation') body.config = { targetTableId: target.value };
      await api.post(`/api/tables/${ctx.table.id}/columns`, body);
      form.reset();
      delete name.dataset.touched;
      await done();
    }, errors);
  });
  return form;
}

function templateForm(ctx) {
  const name = h('input', { type: 'text', required: true, maxlength: 256, 'aria-label': 'Template name',
    value: ctx.table.name });
  const category = h('select', { 'aria-label': 'Category' }, options(CATEGORIES));
  const sample = h('input', { type: 'checkbox', 'aria-label': 'Include the first 5 rows' });
  const errors = h('div');
  const form = h('form', { 'aria-label': 'Save as template' }, h('div', { class: 'row' }, field('Name', name),
    field('Category', category), h('label', { class: 'inline' }, sample, ' include the first 5 rows')),
  errors, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save template')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      await api.post('/api/tables/templates', { tableId: ctx.table.id, name: name.value.trim(),
        category: category.value, includeSampleData: sample.checked });
      toast('Template saved: it is offered when you create a table.');
    }, errors);
  });
  return form;
}

export async function tableView(root, params, scope) {
  const page = h('div', { class: 'table-page' });
  root.append(page);
  const errors = h('div');
  let table;
  try {
    table = await api.get(`/api/tables/${encodeURIComponent(params.id)}`);
  } catch (err) {
    clear(page, link('/tables', '← Tables'), errorBox(err.status === 404
      ? new Error('There is no such table; it may have been deleted.') : err));
    return;
  }
  const query = { filters: [], sorts: [] };
  const meta = h('p', { class: 'muted' });
  const gridBox = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const panel = h('section', { class: 'card', hidden: true, 'aria-label': 'Table tools' });
  const ctx = { table, columns: table.columns, errors };
  let openPanel = null;

  async function loadRows() {
    bar.refresh();
    try {
      const q = new URLSearchParams({ limit: String(PAGE_ROWS) });
      if (query.filters.length) q.set('filters', JSON.stringify(query.filters));
      if (query.sorts.length) q.set('sorts', JSON.stringify(query.sorts));
      const rows = await api.get(`/api/tables/${table.id}/rows?${q}`);
      if (!scope.alive) return;
      const filtered = query.filters.length ? `${plural(rows.length, 'row')} match` : plural(ctx.table.rowCount, 'row');
      clear(meta, `${filtered} · ${plural(ctx.columns.length, 'column')} · ${ctx.table.source}`);
      clear(gridBox, ctx.columns.length ? grid(rows, ctx)
        : h('div', { class: 'empty' }, h('p', { text: 'No columns yet: add one, or import a CSV, TSV or XLSX file.' })));
    } catch (err) {
      clear(gridBox, errorBox(err));
    }
  }
  ctx.reload = async () => {
    const fresh = await api.get(`/api/tables/${table.id}`);
    ctx.table = fresh;
    ctx.columns = fresh.columns;
    await loadRows();
  };
  ctx.changed = () => {
    if (openPanel === 'history') showHistory(panel.body, ctx);
    if (openPanel === 'charts') chartsPanel(panel.body, ctx);
  };
  function open(name, heading, fill) {
    if (openPanel === name) {
      panel.hidden = true;
      openPanel = null;
      return;
    }
    openPanel = name;
    panel.body = h('div');
    clear(panel, h('h2', { text: heading }), panel.body);
    panel.hidden = false;
    fill(panel.body);
  }
  ctx.showHistory = (row) => {
    openPanel = 'row-history';
    panel.body = h('div');
    clear(panel, h('h2', { text: 'History' }), panel.body);
    panel.hidden = false;
    showHistory(panel.body, ctx, row);
  };
  const bar = queryBar(ctx, query, loadRows);

  const addRow = button('Add row', () => run(addRow, async () => {
    await api.post(`/api/tables/${table.id}/rows`, { rows: [{ data: {} }] });
    await ctx.reload();
  }, errors));
  const exportLinks = h('span', { class: 'exports' }, 'Export: ', ['csv', 'json', 'xlsx'].map((fmt) => [h('a', {
    class: 'button', href: `/api/tables/${table.id}/export?format=${fmt}`, download: '' }, fmt.toUpperCase()), ' ']));
  const remove = button('Delete table', () => run(remove, async () => {
    if (!window.confirm(`Delete the table "${ctx.table.name}" and all its rows?`)) return;
    await api.del(`/api/tables/${table.id}`);
    window.location.hash = '#/tables';
  }, errors), { class: 'danger' });
  const tools = h('div', { class: 'toolbar row' }, addRow,
    button('Add column', () => open('column', 'Add a column', (box) => box.append(columnForm(ctx, ctx.reload)))),
    button('Import', () => open('import', 'Import rows from a file', (box) => box.append(importWizard(ctx)))),
    button('Triggers', () => open('triggers', 'Triggers', (box) => triggersPanel(box, ctx))),
    button('Charts', () => open('charts', 'Charts', (box) => chartsPanel(box, ctx))),
    button('History', () => open('history', 'History', (box) => showHistory(box, ctx))),
    button('Save as template', () => open('template', 'Save as a template', (box) => box.append(templateForm(ctx)))),
    exportLinks, remove);

  page.append(link('/tables', '← Tables'), h('h1', { text: table.name }),
    table.description ? h('p', { text: table.description }) : null, meta, tools, errors, panel, bar, gridBox);
  await loadRows();
  scope.on('reconnected', scope.coalesce(loadRows));
}
