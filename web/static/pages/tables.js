// Tables: the user's own structured data. The list with a new-table form (blank, or from a
// template: business, personal, project management, finance, content, or one of the user's);
// one table's page is tables/view.js.

import { api } from '../api.js';
import { ago, clear, empty, errorBox, field, h, link, run, stacked } from '../ui.js';
import { tableView } from '../tables/view.js';

const CATEGORY_NAMES = { business: 'Business', personal: 'Personal', pm: 'Project management', finance: 'Finance',
  content: 'Content' };

function templatePicker(templates) {
  const select = h('select', { name: 'template', 'aria-label': 'Start from' }, h('option', { value: '' }, 'A blank table'));
  for (const [category, label] of Object.entries(CATEGORY_NAMES)) {
    const items = templates.filter((t) => t.category === category);
    if (!items.length) continue;
    select.append(h('optgroup', { label }, items.map((t) => h('option', { value: t.id },
      `${t.name}${t.scope === 'user' ? ' (yours)' : ''}`))));
  }
  return select;
}

async function tablesPage(root, params, scope) {
  const page = h('div');
  root.append(page);
  const list = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const errors = h('div');
  const templates = await api.get('/api/tables/templates').catch(() => []);
  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 256, placeholder: 'e.g. Clients' });
  const picker = templatePicker(templates);
  const sample = h('input', { type: 'checkbox', name: 'sample', checked: true });
  const about = h('p', { class: 'muted' });
  picker.addEventListener('change', () => {
    const t = templates.find((x) => x.id === picker.value);
    about.textContent = t ? `${t.description || ''} Columns: ${t.columnSchema.map((c) => c.displayName).join(', ')}.` : '';
    if (t && !name.value.trim()) name.value = t.name;
  });
  const form = h('form', { 'aria-label': 'New table' }, h('div', { class: 'row' }, field('Name', name),
    field('Start from', picker), h('label', { class: 'inline' }, sample, ' with sample rows')), about, errors,
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create table')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const body = { name: name.value.trim() };
      if (picker.value) Object.assign(body, { templateId: picker.value, includeSampleData: sample.checked });
      const table = await api.post('/api/tables', body);
      window.location.hash = `#/tables/${table.id}`;
    }, errors);
  });
  page.append(h('h1', { text: 'Tables' }),
    h('p', { class: 'muted', text: 'Your own structured data: clients, deals, expenses, a content calendar. Agents can read and update them.' }),
    form, list);

  async function load() {
    try {
      const tables = await api.get('/api/tables');
      clear(list, tables.length ? stacked(h('table', {}, h('thead', {}, h('tr', {},
        ['Table', 'Rows', 'Columns', 'Source', 'Updated'].map((c) => h('th', { text: c })))),
      h('tbody', {}, tables.map((t) => h('tr', { 'data-table': t.id }, h('td', {}, link(`/tables/${t.id}`, t.name),
        t.projectName ? h('span', { class: 'muted' }, ` · ${t.projectName}`) : null),
      h('td', { text: String(t.rowCount) }), h('td', { text: String(t.columnCount) }), h('td', { text: t.source }),
      h('td', { class: 'muted', text: ago(t.updatedAt) }))))))
        : empty('No tables yet. Create one above, blank or from a template (Clients, Expenses, Project tasks…).'));
    } catch (err) {
      clear(list, errorBox(err));
    }
  }
  await load();
  scope.on('reconnected', scope.coalesce(load));
}

export default { nav: { label: 'Tables', path: '/tables' },
  routes: { '/tables': tablesPage, '/tables/:id': tableView } };
