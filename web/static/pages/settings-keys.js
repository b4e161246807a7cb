// Settings → API keys: list, create (the secret is shown once, here, and never stored by the
// page), revoke. Needs the admin scope, which this browser's session has.

import { api } from '../api.js';
import { badge, button, clear, empty, errorBox, field, h, run, section, stacked, when } from '../ui.js';

const SCOPES = ['stagent:read', 'stagent:write', 'stan:execute', 'ai-agent:chat', 'ai-agent:actions', 'admin'];

export async function keysSection() {
  const list = h('div');
  const created = h('div', { 'aria-live': 'polite' });
  const errors = h('div');

  const load = async () => {
    try {
      const keys = await api.get('/api/keys');
      const live = keys.filter((k) => !k.revokedAt);
      clear(list, live.length ? stacked(h('table', {}, h('thead', {}, h('tr', {},
        ['Name', 'Key', 'Scopes', 'Created', 'Last used', ''].map((c) => h('th', { text: c })))),
      h('tbody', {}, live.map((k) => {
        const revoke = button('Revoke', () => {
          if (!window.confirm(`Revoke the key “${k.name}”? Programs using it stop working at once.`)) return;
          run(revoke, async () => {
            await api.del(`/api/keys/${k.id}`);
            await load();
          }, errors);
        }, { class: 'danger' });
        return h('tr', {}, h('td', {}, k.name), h('td', {}, h('code', {}, k.prefix)),
          h('td', {}, k.scopes.map((s) => [badge(s), ' '])), h('td', { class: 'muted' }, when(k.createdAt)),
          h('td', { class: 'muted' }, when(k.lastUsedAt)), h('td', {}, revoke));
      })))) : empty('No API keys. Create one for a script or another program.'));
    } catch (err) {
      clear(list, errorBox(err));
    }
  };

  const name = h('input', { type: 'text', maxlength: 100, placeholder: 'e.g. backup script', required: true });
  const boxes = SCOPES.map((scope) => h('label', { class: 'inline' },
    h('input', { type: 'checkbox', value: scope, checked: scope.startsWith('stagent:') }), scope));
  const form = h('form', { 'aria-label': 'New API key' }, field('Name', name),
    h('fieldset', {}, h('legend', {}, 'Scopes'), h('div', { class: 'row' }, boxes)), errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create key')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const scopes = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
    run(event.submitter, async () => {
      const key = await api.post('/api/keys', { name: name.value.trim(), scopes });
      name.value = '';
      clear(created, h('div', { class: 'notice' }, h('p', {}, `Copy the key “${key.name}” now; it is not shown again:`),
        h('pre', {}, key.key), button('Done', () => clear(created))));
      await load();
    }, errors);
  });
  await load();
  return section('API keys', h('p', { class: 'muted' }, 'Send a key as the X-API-Key header.'), list, form, created);
}
