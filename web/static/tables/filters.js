// The filter and sort bar of a table, and its saved views (/api/views, surface `table:<id>`).
// The daemon filters and sorts (in SQL); this bar only edits the query and asks again.

import { api } from '../api.js';
import { button, clear, field, h, options, run, toast } from '../ui.js';

export const OPERATORS = [['eq', '='], ['neq', '≠'], ['gt', '>'], ['gte', '≥'], ['lt', '<'], ['lte', '≤'],
  ['contains', 'contains'], ['starts_with', 'starts with'], ['in', 'is one of'], ['is_empty', 'is empty'],
  ['is_not_empty', 'is not empty']];
const NO_VALUE = new Set(['is_empty', 'is_not_empty']);
const OP_LABEL = Object.fromEntries(OPERATORS);

function parseJson(value, fallback) {
  if (value === null || value === undefined || value === '') return fallback;
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return fallback;
  }
}

function typed(column, raw, operator) {
  if (operator === 'in') return raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (column && column.dataType === 'number' && raw !== '' && !Number.isNaN(Number(raw))) return Number(raw);
  if (column && column.dataType === 'boolean') return raw === 'true' || raw === 'yes';
  return raw;
}

// query: {filters: [], sorts: []}, changed by this bar; onChange() asks for the rows again.
export function queryBar(ctx, query, onChange) {
  const columnChoices = () => ctx.columns.map((c) => [c.name, c.displayName]);
  const fColumn = h('select', { 'aria-label': 'Filter column' }, options(columnChoices()));
  const fOp = h('select', { 'aria-label': 'Operator' }, options(OPERATORS));
  const fValue = h('input', { type: 'text', 'aria-label': 'Filter value', placeholder: 'value' });
  fOp.addEventListener('change', () => { fValue.disabled = NO_VALUE.has(fOp.value); });
  const filterForm = h('form', { class: 'inline', 'aria-label': 'Filter' }, fColumn, fOp, fValue,
    h('button', { type: 'submit' }, 'Add filter'));
  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const column = ctx.columns.find((c) => c.name === fColumn.value);
    const filter = { column: fColumn.value, operator: fOp.value };
    if (!NO_VALUE.has(fOp.value)) filter.value = typed(column, fValue.value.trim(), fOp.value);
    query.filters.push(filter);
    fValue.value = '';
    onChange();
  });

  const sColumn = h('select', { 'aria-label': 'Sort by' }, options(columnChoices()));
  const sDir = h('select', { 'aria-label': 'Direction' }, options([['asc', 'ascending'], ['desc', 'descending']]));
  const sortForm = h('form', { class: 'inline', 'aria-label': 'Sort' }, sColumn, sDir,
    h('button', { type: 'submit' }, 'Add sort'));
  sortForm.addEventListener('submit', (event) => {
    event.preventDefault();
    query.sorts = query.sorts.filter((s) => s.column !== sColumn.value);
    query.sorts.push({ column: sColumn.value, direction: sDir.value });
    onChange();
  });

  const chips = h('div', { class: 'chips', 'aria-label': 'Active filters and sorts' });
  const name = (column) => (ctx.columns.find((c) => c.name === column) || { displayName: column }).displayName;
  function drawChips() {
    clear(chips,
      query.filters.map((f, i) => h('span', { class: 'chip' },
        `${name(f.column)} ${OP_LABEL[f.operator] || f.operator}${NO_VALUE.has(f.operator) ? '' : ` ${Array.isArray(f.value) ? f.value.join(', ') : f.value}`}`,
        button('✕', () => { query.filters.splice(i, 1); onChange(); },
          { class: 'tiny', 'aria-label': `Remove filter on ${name(f.column)}` }))),
      query.sorts.map((s, i) => h('span', { class: 'chip' }, `${name(s.column)} ${s.direction === 'desc' ? '↓' : '↑'}`,
        button('✕', () => { query.sorts.splice(i, 1); onChange(); },
          { class: 'tiny', 'aria-label': `Remove sort on ${name(s.column)}` }))));
  }

  // saved views
  const surface = `table:${ctx.table.id}`;
  const views = h('select', { 'aria-label': 'Saved view' });
  const viewName = h('input', { type: 'text', 'aria-label': 'View name', placeholder: 'name this view', maxlength: 200 });
  let saved = [];
  async function loadViews(selected = '') {
    saved = await api.get(`/api/views?surface=${encodeURIComponent(surface)}`).catch(() => []);
    clear(views, h('option', { value: '' }, 'All rows'), options(saved.map((v) => [v.id, v.name]), selected));
  }
  views.addEventListener('change', () => {
    const view = saved.find((v) => v.id === views.value);
    query.filters = view ? parseJson(view.filters, []) : [];
    query.sorts = view ? parseJson(view.sorting, []) : [];
    onChange();
  });
  const saveView = button('Save view', () => run(saveView, async () => {
    const label = viewName.value.trim();
    if (!label) throw new Error('Name the view first.');
    const view = await api.post('/api/views', { surface, name: label, filters: query.filters, sorting: query.sorts });
    viewName.value = '';
    await loadViews(view.id);
    toast(`View "${label}" saved.`);
  }, ctx.errors));

  const bar = h('div', { class: 'querybar' }, h('div', { class: 'row' }, filterForm, sortForm),
    h('div', { class: 'row' }, field('View', views), viewName, saveView), chips);
  bar.refresh = () => {
    clear(fColumn, options(columnChoices(), fColumn.value));
    clear(sColumn, options(columnChoices(), sColumn.value));
    drawChips();
  };
  drawChips();
  loadViews();
  return bar;
}
