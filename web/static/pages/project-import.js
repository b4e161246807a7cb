// Projects → Import: find project folders under a parent folder (by markers such as CLAUDE.md,
// AGENTS.md, .git, package.json), pick some, import them as projects with progress per folder.

import { api, readEventStream } from '../api.js';
import { badge, clear, empty, field, h, link, options, run, section, stacked, toast } from '../ui.js';

function foundTable(projects) {
  const rows = projects.map((p) => {
    const pick = h('input', { type: 'checkbox', checked: !p.alreadyImported, disabled: p.alreadyImported,
      'aria-label': `Import ${p.folderName}` });
    const name = h('input', { type: 'text', value: p.folderName.slice(0, 100), maxlength: 100, 'aria-label': `Name for ${p.folderName}` });
    const holds = [p.markers.join(', '), p.contents ? `${p.contents.files} files, ${p.contents.folders} folders` : '']
      .filter(Boolean).join(' · ');
    const tr = h('tr', { 'data-found': p.path }, h('td', {}, pick), h('td', {}, name, h('div', { class: 'muted' }, h('code', {}, p.path))),
      h('td', {}, p.gitBranch ? h('code', {}, p.gitBranch) : '—'), h('td', { class: 'muted' }, holds),
      h('td', {}, p.alreadyImported ? badge('completed', 'imported') : ''));
    return { p, pick, name, tr };
  });
  const table = stacked(h('table', {}, h('thead', {}, h('tr', {}, ['', 'Folder', 'Branch', 'Holds', '']
    .map((c) => h('th', { text: c })))), h('tbody', {}, rows.map((r) => r.tr))));
  return { table, chosen: () => rows.filter((r) => r.pick.checked && !r.pick.disabled)
    .map((r) => ({ path: r.p.path, name: r.name.value.trim() || r.p.folderName })) };
}

async function importView(root) {
  const page = h('div');
  root.append(page);
  const context = await api.get('/api/workspace/context').catch(() => null);
  const parent = h('input', { type: 'text', required: true, maxlength: 1000, placeholder: '~/code',
    value: context ? context.cwd.replace(/\/[^/]*$/, '') || '/' : '' });
  const depth = h('select', {}, options([['1', '1 level'], ['2', '2 levels'], ['3', '3 levels']], '2'));
  const errors = h('div');
  const results = h('div');
  const progress = h('ul', { class: 'plain', 'aria-live': 'polite', 'data-import-progress': true });
  const form = h('form', { 'aria-label': 'Discover projects' }, h('div', { class: 'row' },
    field('Parent folder', parent, 'Folders under it that hold CLAUDE.md, AGENTS.md, .git or a package manifest'),
    field('Depth', depth)), errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Discover')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      clear(progress);
      const found = await api.post('/api/workspace/discover', { parentDir: parent.value.trim(), maxDepth: Number(depth.value) });
      if (!found.projects.length) {
        clear(results, empty(`No project folders under ${found.searchPath}.`), found.errors.map((e) => h('p', { class: 'muted' }, e)));
        return;
      }
      const { table, chosen } = foundTable(found.projects);
      const go = h('button', { type: 'button', class: 'primary' }, 'Import selected');
      go.addEventListener('click', () => run(go, async () => {
        const projects = chosen();
        if (!projects.length) throw new Error('Select at least one folder to import.');
        clear(progress);
        const response = await api.stream('/api/workspace/import', { projects });
        await readEventStream(response, (e) => {
          if (e.type === 'complete') {
            progress.append(h('li', { 'data-import-complete': true }, `Done: ${e.created} imported, ${e.failed} failed.`));
            toast(`${e.created} project${e.created === 1 ? '' : 's'} imported.`);
          } else if (e.status === 'done') {
            progress.append(h('li', {}, badge('ok'), ' ', link(`/projects/${e.projectId}`, e.name)));
          } else if (e.status === 'failed') {
            progress.append(h('li', {}, badge('failed'), ` ${e.name}: ${e.error}`));
          }
        });
      }, errors));
      clear(results, h('p', { class: 'muted' }, `${found.projects.length} found in ${found.durationMs} ms.`), table,
        found.errors.map((e) => h('p', { class: 'muted' }, e)), h('div', { class: 'actions' }, go));
    }, errors);
  });
  page.append(h('h1', { text: 'Import projects' }), h('p', {}, link('/projects', '← All projects')),
    section('Find folders', form), section('Found', results, progress));
}

export { importView };
