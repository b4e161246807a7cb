// Memory: what a profile has learned. Its memories (adjust confidence, archive, add one) and
// its learned context (the active text, the versions, roll back to one). Proposals of new
// context are answered in the Inbox.

import { api } from '../api.js';
import { ago, badge, button, clear, empty, errorBox, field, h, options, run, section, toast } from '../ui.js';

const CATEGORIES = ['fact', 'preference', 'pattern', 'outcome'];
const STATUSES = ['active', 'decayed', 'archived', 'rejected'];

function memoryRow(m, reload, errors) {
  const confidence = h('input', { type: 'number', min: 0, max: 1000, step: 10, value: m.confidence,
    'aria-label': 'Confidence (0–1000)', class: 'narrow' });
  const save = button('Save', () => run(save, async () => {
    await api.patch('/api/memory', { id: m.id, confidence: Number(confidence.value) });
    toast('Confidence saved.');
    await reload();
  }, errors));
  const archive = button('Archive', () => run(archive, async () => {
    await api.del('/api/memory', { id: m.id });
    await reload();
  }, errors), { class: 'danger' });
  return h('tr', { 'data-memory': m.id },
    h('td', {}, m.content), h('td', {}, badge(m.category)), h('td', {}, badge(m.status)),
    h('td', {}, h('div', { class: 'row' }, confidence, save)),
    h('td', { class: 'muted' }, `${m.accessCount}× · ${m.lastAccessedAt ? ago(m.lastAccessedAt) : 'never used'}`),
    h('td', {}, m.status === 'archived' ? '' : archive));
}

async function memoryPage(root, params, scope) {
  const page = h('div');
  root.append(page);
  const profile = h('select', { name: 'profile', 'aria-label': 'Profile' });
  const status = h('select', { name: 'status', 'aria-label': 'Status' },
    h('option', { value: '' }, 'any status'), options(STATUSES.map((s) => [s, s]), 'active'));
  const memories = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const context = h('div');
  const errors = h('div');
  const content = h('textarea', { name: 'content', maxlength: 4000, required: true });
  const category = h('select', { name: 'category' }, options(CATEGORIES.map((c) => [c, c]), 'fact'));
  const form = h('form', { 'aria-label': 'New memory' }, field('Memory', content), field('Category', category),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Add memory')));
  page.append(h('h1', { text: 'Memory' }),
    h('div', { class: 'row' }, field('Profile', profile), field('Show', status)), errors,
    section('Memories', memories, form), section('Learned context', context));

  const profiles = await api.get('/api/profiles').catch(() => [{ id: 'general', name: 'General' }]);
  const chosen = params.id || 'general';
  clear(profile, options(profiles.map((p) => [p.id, p.name || p.id]), chosen));

  async function loadMemories() {
    try {
      const query = new URLSearchParams({ profileId: profile.value });
      if (status.value) query.set('status', status.value);
      const rows = await api.get(`/api/memory?${query}`);
      clear(memories, rows.length ? h('table', {},
        h('thead', {}, h('tr', {}, ['Memory', 'Category', 'Status', 'Confidence', 'Used', ''].map((c) => h('th', { text: c })))),
        h('tbody', {}, rows.map((m) => memoryRow(m, loadMemories, errors))))
        : empty('No memories yet. With learning on (Settings → learning), a finished task proposes what is worth remembering.'));
    } catch (err) {
      clear(memories, errorBox(err));
    }
  }
  async function loadContext() {
    try {
      const data = await api.get(`/api/profiles/${encodeURIComponent(profile.value)}/context`);
      const versions = data.history.filter((v) => v.changeType !== 'proposal');
      clear(context, h('p', { class: 'muted' }, `${data.currentSize} of ${data.limit} characters`),
        data.content ? h('pre', {}, data.content) : empty('No learned context yet; proposals arrive in the Inbox.'),
        versions.length ? h('ul', { class: 'plain' }, versions.map((v) => {
          const back = button(`Roll back to v${v.version}`, () => run(back, async () => {
            await api.patch(`/api/profiles/${encodeURIComponent(profile.value)}/context`,
              { action: 'rollback', targetVersion: v.version });
            await loadContext();
          }, errors));
          return h('li', {}, `v${v.version} `, badge(v.changeType), ' ', h('span', { class: 'muted' }, ago(v.createdAt)),
            ' ', v.changeType === 'rejected' ? '' : back);
        })) : null);
    } catch (err) {
      clear(context, errorBox(err));
    }
  }
  const loadAll = () => Promise.all([loadMemories(), loadContext()]);
  profile.addEventListener('change', loadAll);
  status.addEventListener('change', loadMemories);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      await api.post('/api/memory', { profileId: profile.value, category: category.value, content: content.value.trim() });
      form.reset();
      await loadMemories();
    }, errors);
  });
  await loadAll();
  scope.on('reconnected', scope.coalesce(loadAll));
}

export default { nav: { label: 'Memory', path: '/memory' }, routes: { '/memory': memoryPage, '/memory/:id': memoryPage } };
