// Settings → Data: snapshots (size, verification, create, restore behind a confirming dialog,
// delete), the auto-backup settings, and sample data / clear (each asks first; each takes a
// snapshot before it changes anything).

import { api } from '../api.js';
import { badge, button, clear, empty, errorBox, field, h, options, run, section, stacked, toast, when } from '../ui.js';

export function size(bytes) {
  let value = Number(bytes) || 0;
  for (const unit of ['B', 'KB', 'MB', 'GB']) {
    if (value < 1024 || unit === 'GB') return unit === 'B' ? `${value} B` : `${value.toFixed(1)} ${unit}`;
    value /= 1024;
  }
  return `${bytes} B`;
}

// A modal that resolves true when the user presses the action button, false otherwise.
export function confirmDialog({ title, text, action, danger = true }) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'submit', value: 'yes', class: danger ? 'danger' : 'primary' }, action);
    const dialog = h('dialog', { class: 'confirm', 'aria-label': title },
      h('form', { method: 'dialog' }, h('h2', { text: title }), h('p', { text }),
        h('div', { class: 'actions' }, ok, h('button', { type: 'submit', value: 'no' }, 'Cancel'))));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'yes');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

function verification(s) {
  if (s.status === 'in_progress') return badge('running', 'in progress');
  if (s.status === 'failed') return h('span', { title: s.error || '' }, badge('failed'), ' ', s.error || '');
  return s.verified ? badge('ok', 'verified') : badge('warning', 'not verified');
}

async function snapshotsPart(reloadAll) {
  const list = h('div');
  const errors = h('div', { 'aria-live': 'polite' });
  const load = async () => {
    try {
      const data = await api.get('/api/snapshots');
      clear(list, data.snapshots.length ? [h('p', { class: 'muted' },
        `${data.snapshotCount} snapshot${data.snapshotCount === 1 ? '' : 's'}, ${size(data.totalBytes)} on disk.`),
      stacked(h('table', {}, h('thead', {}, h('tr', {}, ['Snapshot', 'Type', 'Created', 'Size', 'Files', 'State', '']
        .map((c) => h('th', { text: c })))),
      h('tbody', {}, data.snapshots.map((s) => {
        const restore = button('Restore', async () => {
          const yes = await confirmDialog({ title: 'Restore this snapshot?',
            text: `All current data is replaced by “${s.label}” from ${when(s.createdAt)}. A snapshot of the current data is taken first, so this can be undone.`,
            action: 'Restore' });
          if (!yes) return;
          await run(restore, async () => {
            const result = await api.post(`/api/snapshots/${s.id}/restore`);
            toast(result.message);
            await reloadAll();
          }, errors);
        }, { disabled: s.status !== 'completed' });
        const del = button('Delete', async () => {
          const yes = await confirmDialog({ title: 'Delete this snapshot?', text: `“${s.label}” is deleted with its files.`,
            action: 'Delete' });
          if (!yes) return;
          await run(del, async () => {
            await api.del(`/api/snapshots/${s.id}`);
            await load();
          }, errors);
        });
        return h('tr', { 'data-snapshot': s.id }, h('td', {}, s.label), h('td', {}, s.type), h('td', { class: 'muted' }, when(s.createdAt)),
          h('td', {}, size(s.sizeBytes)), h('td', {}, String(s.fileCount)), h('td', {}, verification(s)),
          h('td', {}, restore, ' ', del));
      }))))] : empty('No snapshots yet. A snapshot holds the database and the data files.'));
    } catch (err) {
      clear(list, errorBox(err));
    }
  };
  const label = h('input', { type: 'text', maxlength: 200, placeholder: 'Manual snapshot' });
  const form = h('form', { 'aria-label': 'New snapshot' }, field('Label', label),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create snapshot')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const s = await api.post('/api/snapshots', { label: label.value.trim() || undefined });
      label.value = '';
      toast(`Snapshot “${s.label}” made and verified.`);
    }, errors).then(load);  // a failed snapshot is listed too
  });
  await load();
  return { el: [list, form, errors], load };
}

async function autoBackupPart() {
  const current = await api.get('/api/snapshots/settings');
  const enabled = h('input', { type: 'checkbox', checked: current.enabled === 'true' });
  const interval = h('select', {}, options([['1h', 'every hour'], ['6h', 'every 6 hours'], ['1d', 'every day'],
    ['1w', 'every week']], current.interval));
  if (![...interval.options].some((o) => o.value === current.interval)) interval.append(h('option', { value: current.interval, selected: true }, current.interval));
  const maxCount = h('input', { type: 'number', min: 0, value: current.maxCount });
  const maxAge = h('input', { type: 'number', min: 0, value: current.maxAgeWeeks });
  const errors = h('div');
  const form = h('form', { 'aria-label': 'Auto-backup' },
    h('label', { class: 'inline' }, enabled, 'Back up automatically'),
    h('div', { class: 'row' }, field('How often', interval), field('Keep at most (snapshots)', maxCount, '0 = no limit'),
      field('Keep for (weeks)', maxAge, '0 = no limit')),
    h('p', { class: 'hint' }, 'Retention removes automatic backups only; yours stay until you delete them.'), errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save auto-backup')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      await api.put('/api/snapshots/settings', { enabled: enabled.checked, interval: interval.value,
        maxCount: maxCount.value.trim(), maxAgeWeeks: maxAge.value.trim() });
      toast('Auto-backup saved.');
    }, errors);
  });
  return form;
}

function sampleDataPart(reloadAll) {
  const errors = h('div', { 'aria-live': 'polite' });
  const act = (label, path, title, text, done) => {
    const b = button(label, async () => {
      if (!await confirmDialog({ title, text, action: label })) return;
      await run(b, async () => {
        const result = await api.post(path);
        toast(done(result));
        await reloadAll();
      }, errors);
    }, { class: 'danger' });
    return b;
  };
  const seed = act('Load sample data', '/api/data/seed', 'Replace your data with sample data?',
    'Projects, tasks, workflows, schedules, chats and the rest are replaced by a demo. Settings, API keys and snapshots stay; a snapshot of your data is taken first.',
    (r) => `Sample data loaded: ${r.seeded.projects} projects, ${r.seeded.tasks} tasks.`);
  const wipe = act('Clear all data', '/api/data/clear', 'Delete all your data?',
    'Every project, task, workflow, schedule, chat, document and log is deleted. Settings, API keys and snapshots stay; a snapshot is taken first.',
    (r) => `Data cleared (${Object.values(r.deleted).reduce((a, b) => a + b, 0)} items).`);
  return [h('p', { class: 'muted' }, 'Both take a snapshot first, so a restore brings your data back.'),
    h('div', { class: 'actions' }, seed, wipe), errors];
}

export async function dataSection() {
  const holder = h('div');
  let snaps;
  const reloadAll = async () => snaps && snaps.load();
  snaps = await snapshotsPart(reloadAll);
  const auto = await autoBackupPart();
  clear(holder, h('h3', { text: 'Snapshots' }), snaps.el, h('h3', { text: 'Auto-backup' }), auto,
    h('h3', { text: 'Sample data' }), sampleDataPart(reloadAll));
  return section('Data', holder);
}
