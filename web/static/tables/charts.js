// Saved charts of a table: drawn as SVG from the figures the daemon aggregates; add, delete.

import { api } from '../api.js';
import { button, clear, empty, errorBox, field, h, options, run } from '../ui.js';
import { drawChart } from './chart-svg.js';

const TYPES = [['bar', 'Bar'], ['line', 'Line'], ['pie', 'Pie'], ['scatter', 'Scatter']];
const AGGREGATIONS = [['count', 'count of rows'], ['sum', 'sum'], ['avg', 'average'], ['min', 'minimum'], ['max', 'maximum']];

export async function chartsPanel(box, ctx) {
  const list = h('div', { class: 'charts' });
  const errors = h('div');
  async function reload() {
    try {
      const charts = await api.get(`/api/tables/${ctx.table.id}/charts`);
      clear(list, charts.length ? charts.map((c) => {
        const remove = button('Delete chart', () => run(remove, async () => {
          await api.del(`/api/tables/${ctx.table.id}/charts/${c.id}`);
          await reload();
        }, errors), { class: 'tiny danger' });
        return h('figure', { 'data-chart': c.id }, drawChart(c), h('figcaption', {}, c.name, ' ', remove));
      }) : empty('No charts yet.'));
    } catch (err) {
      clear(list, errorBox(err));
    }
  }
  const columns = ctx.columns.map((c) => [c.name, c.displayName]);
  const title = h('input', { type: 'text', required: true, maxlength: 256, 'aria-label': 'Chart title' });
  const type = h('select', { 'aria-label': 'Chart type' }, options(TYPES));
  const x = h('select', { 'aria-label': 'X axis' }, options(columns));
  const y = h('select', { 'aria-label': 'Y axis' }, h('option', { value: '' }, '(none: count rows)'),
    options(ctx.columns.filter((c) => ['number', 'computed'].includes(c.dataType)).map((c) => [c.name, c.displayName])));
  const aggregation = h('select', { 'aria-label': 'Aggregation' }, options(AGGREGATIONS, 'sum'));
  const form = h('form', { 'aria-label': 'New chart' }, h('div', { class: 'row' }, field('Title', title),
    field('Type', type), field('X axis (group by)', x), field('Y axis', y), field('Aggregation', aggregation)),
  errors, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Draw chart')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const body = { type: type.value, title: title.value.trim(), xColumn: x.value };
      if (y.value) body.yColumn = y.value;
      body.aggregation = y.value ? aggregation.value : 'count';
      await api.post(`/api/tables/${ctx.table.id}/charts`, body);
      form.reset();
      await reload();
    }, errors);
  });
  clear(box, list, form);
  await reload();
}
