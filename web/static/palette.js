// Search everything (Ctrl/Cmd-K, or `/` on a page without a search box of its own): pages,
// tasks, projects, workflows, schedules (the API's @-mention search) and chat conversations,
// each a link to its page.

import { api } from './api.js';
import { clear, h } from './ui.js';

const ROUTES = {
  task: (id) => `#/tasks/${id}`,
  project: (id) => `#/projects/${id}`,
  workflow: (id) => `#/workflows/${id}`,
  schedule: () => '#/schedules',
};
const EXTRA_PAGES = [['Blueprints', '/blueprints']];

let dialog = null;
let input = null;
let results = null;
let asked = 0;
let timer = null;
let pages = [];
let conversations = null; // read once per opening

function item(href, label, kind, detail) {
  return h('li', {}, h('a', { href, class: 'result' }, h('span', { class: 'kind' }, kind), ' ',
    h('span', {}, label), detail ? h('span', { class: 'muted' }, ` ${detail}`) : null));
}

async function search() {
  const query = input.value.trim().toLowerCase();
  const ticket = ++asked;
  const found = pages.filter(([label]) => !query || label.toLowerCase().includes(query))
    .map(([label, path]) => item(`#${path}`, label, 'page'));
  if (!query || found.length) clear(results, found); // the pages at once; the rest when the server answers
  if (!query) return;
  const [entities, convs] = await Promise.all([
    api.get(`/api/chat/entities/search?q=${encodeURIComponent(query)}&limit=12`).then((r) => r.results).catch(() => []),
    (conversations ||= api.get('/api/chat/conversations?limit=200').catch(() => [])),
  ]);
  if (ticket !== asked || !dialog.open) return;
  for (const e of entities) {
    if (ROUTES[e.entityType]) found.push(item(ROUTES[e.entityType](e.entityId), e.label, e.entityType, e.status));
  }
  for (const c of convs) {
    if ((c.title || '').toLowerCase().includes(query)) found.push(item(`#/chat/${c.id}`, c.title, 'chat'));
  }
  clear(results, found.length ? found.slice(0, 30) : h('li', { class: 'muted' }, `Nothing is called “${input.value.trim()}”.`));
}

function links() {
  return [...results.querySelectorAll('a')];
}

function build() {
  input = h('input', { type: 'search', 'aria-label': 'Search everything', placeholder: 'Search tasks, projects, workflows, chats, pages…',
    autocomplete: 'off' });
  results = h('ul', { class: 'results', 'aria-label': 'Results' });
  dialog = h('dialog', { class: 'palette', 'aria-label': 'Search everything' },
    h('form', { method: 'dialog', class: 'palette-form' }, input,
      h('p', { class: 'hint' }, 'Enter opens the first result; arrow keys move; Esc closes.')), results);
  document.body.append(dialog);
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });
  dialog.querySelector('form').addEventListener('submit', (event) => {
    event.preventDefault();
    const first = links()[0];
    if (first) {
      location.hash = first.getAttribute('href');
      dialog.close();
    }
  });
  dialog.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    const all = links();
    if (!all.length) return;
    event.preventDefault();
    const at = all.indexOf(document.activeElement);
    const next = event.key === 'ArrowDown' ? Math.min(at + 1, all.length - 1) : at - 1;
    (next < 0 ? input : all[next]).focus();
  });
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close(); // a click on the backdrop
    else if (event.target.closest('a')) dialog.close();
  });
  window.addEventListener('hashchange', () => dialog.open && dialog.close());
}

export function setPages(list) {
  pages = [...list.filter((p) => p.nav).map((p) => [p.nav.label, p.nav.path]), ...EXTRA_PAGES];
}

export function openPalette() {
  if (!dialog) build();
  if (dialog.open) {
    input.select();
    return;
  }
  conversations = null;
  input.value = '';
  dialog.showModal();
  input.focus();
  search();
}
