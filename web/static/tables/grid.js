// The spreadsheet grid of a table: typed columns (move left/right), one row per data row, a
// cell edits in place on click or Enter (Enter or leaving the cell saves, Escape cancels).

import { api } from '../api.js';
import { button, h, run } from '../ui.js';

const INPUT_TYPES = { number: 'number', date: 'date', url: 'url', email: 'email' };

export function cellText(column, row) {
  const value = row.data[column.name];
  const shown = row.display && row.display[column.name];
  if (shown !== undefined && shown !== null) return Array.isArray(shown) ? shown.join(', ') : String(shown);
  if (value === undefined || value === null) return '';
  if (column.dataType === 'boolean') return value ? '✓' : '✗';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function editor(column, value) {
  const label = `Edit ${column.displayName}`;
  if (column.dataType === 'boolean') {
    return h('select', { 'aria-label': label }, h('option', { value: '' }, '—'),
      h('option', { value: 'true', selected: value === true }, 'yes'),
      h('option', { value: 'false', selected: value === false }, 'no'));
  }
  if (column.dataType === 'select') {
    const choices = (column.config && column.config.options) || [];
    return h('select', { 'aria-label': label }, h('option', { value: '' }, '—'),
      choices.map((o) => h('option', { value: o, selected: o === value }, o)));
  }
  return h('input', { type: INPUT_TYPES[column.dataType] || 'text', 'aria-label': label,
    value: value === undefined || value === null ? '' : String(value), step: column.dataType === 'number' ? 'any' : null });
}

function parsed(column, raw) {
  if (raw === '') return null;
  if (column.dataType === 'boolean') return raw === 'true';
  if (column.dataType === 'number') return Number(raw);
  return raw;
}

function editCell(td, column, row, ctx) {
  if (td.querySelector('input, select')) return;
  const control = editor(column, row.data[column.name]);
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    if (!save) {
      td.replaceChildren(cellText(column, row));
      td.focus();
      return;
    }
    const value = parsed(column, control.value);
    const before = row.data[column.name];
    if ((before === undefined || before === null) ? value === null : before === value) {
      td.replaceChildren(cellText(column, row));
      return;
    }
    await run(null, async () => {
      const updated = await api.patch(`/api/tables/${ctx.table.id}/rows/${row.id}`, { data: { [column.name]: value } });
      Object.assign(row, updated);
    }, ctx.errors);
    td.replaceChildren(cellText(column, row));
    ctx.changed();
  };
  control.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      finish(true);
    } else if (event.key === 'Escape') {
      event.preventDefault();
      finish(false);
    }
  });
  control.addEventListener('blur', () => finish(true));
  if (control.tagName === 'SELECT') control.addEventListener('change', () => finish(true));
  td.replaceChildren(control);
  control.focus();
}

function header(column, index, ctx) {
  const count = ctx.columns.length;
  const move = async (by) => {
    const ids = ctx.columns.map((c) => c.id);
    const [moved] = ids.splice(index, 1);
    ids.splice(index + by, 0, moved);
    await run(null, async () => {
      await api.patch(`/api/tables/${ctx.table.id}/columns`, { columnIds: ids });
      await ctx.reload();
    }, ctx.errors);
  };
  return h('th', { scope: 'col', 'data-column': column.name },
    h('span', { text: column.displayName }), ' ', h('span', { class: 'type', text: column.dataType }),
    h('span', { class: 'moves' },
      index > 0 ? button('◀', () => move(-1), { title: `Move ${column.displayName} left`,
        'aria-label': `Move ${column.displayName} left`, class: 'tiny' }) : null,
      index < count - 1 ? button('▶', () => move(1), { title: `Move ${column.displayName} right`,
        'aria-label': `Move ${column.displayName} right`, class: 'tiny' }) : null));
}

// The grid for `rows`; ctx: {table, columns, errors, reload(), changed(), showHistory(row)}.
export function grid(rows, ctx) {
  const head = h('tr', {}, ctx.columns.map((c, i) => header(c, i, ctx)), h('th', { scope: 'col', text: '' }));
  const body = rows.map((row) => {
    const cells = ctx.columns.map((column) => {
      const td = h('td', { 'data-column': column.name, tabindex: column.dataType === 'computed' ? null : 0 },
        cellText(column, row));
      if (column.dataType !== 'computed' && column.dataType !== 'relation') {
        td.addEventListener('click', () => editCell(td, column, row, ctx));
        td.addEventListener('keydown', (event) => {
          if (event.key === 'Enter' && event.target === td) editCell(td, column, row, ctx);
        });
        td.classList.add('editable');
      }
      return td;
    });
    const remove = button('Delete', () => run(remove, async () => {
      await api.del(`/api/tables/${ctx.table.id}/rows/${row.id}`);
      await ctx.reload();
    }, ctx.errors), { class: 'tiny danger', 'aria-label': 'Delete row' });
    const history = button('History', () => ctx.showHistory(row), { class: 'tiny', 'aria-label': 'Row history' });
    return h('tr', { 'data-row': row.id }, cells, h('td', { class: 'actions' }, history, ' ', remove));
  });
  return h('div', { class: 'sheet-wrap' }, h('table', { class: 'sheet', 'aria-label': ctx.table.name },
    h('thead', {}, head), h('tbody', {}, body)));
}
