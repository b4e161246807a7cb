// Row history: the data a row had before each change (update or delete), for the whole table or
// one row; "Roll back" puts that data back (a deleted row comes back).

import { api } from '../api.js';
import { ago, badge, button, clear, empty, errorBox, h, run, toast } from '../ui.js';

function summary(data, columns) {
  const parsed = typeof data === 'string' ? JSON.parse(data || '{}') : data || {};
  const names = Object.fromEntries(columns.map((c) => [c.name, c.displayName]));
  const parts = Object.entries(parsed).map(([k, v]) => `${names[k] || k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
  return parts.join(' · ') || '(empty row)';
}

// Fills `box` with the history of the table (row null) or of one row.
export async function showHistory(box, ctx, row = null) {
  const base = `/api/tables/${ctx.table.id}`;
  clear(box, h('p', { class: 'muted', text: 'Loading…' }));
  try {
    const entries = await api.get(row ? `${base}/rows/${row.id}/history` : `${base}/history`);
    const title = row ? 'History of this row' : 'Recent changes';
    clear(box, h('h3', { text: title }), entries.length ? h('ul', { class: 'plain history' }, entries.map((e) => {
      const back = button('Roll back', () => run(back, async () => {
        await api.post(`${base}/rows/${e.rowId}/history`, { historyEntryId: e.id });
        toast('Row rolled back.');
        await ctx.reload();
        await showHistory(box, ctx, row);
      }, ctx.errors), { 'aria-label': 'Roll back to this version' });
      return h('li', { 'data-history': e.id }, badge(e.changeType === 'delete' ? 'failed' : 'paused', e.changeType), ' ',
        h('span', { class: 'muted' }, `${ago(e.createdAt)} by ${e.changedBy} — before: `),
        h('span', { class: 'before' }, summary(e.previousData, ctx.columns)), ' ', back);
    })) : empty(row ? 'This row has not been changed yet.' : 'No changes yet: every edit and delete is kept here.'));
  } catch (err) {
    clear(box, errorBox(err));
  }
}
