// Documents: upload files (drop them, or choose), every document with its status and filters,
// and one document: its extracted text, the file itself inline (images, PDF), where it is used,
// its versions (output documents), reprocess and delete.

import { api } from '../api.js';
import { PENDING, size, uploadWithProgress } from '../documents.js';
import { ago, badge, button, clear, empty, errorBox, h, link, options, run, section, stacked, toast,
  when } from '../ui.js';

const STATUSES = ['uploaded', 'processing', 'ready', 'error'];
const PREVIEW_CHARS = 20000;
const POLL_MS = 1000; // while a document is being processed (extraction sends no event)

function statusBadge(d) {
  return badge(d.status === 'ready' ? 'ok' : d.status, d.status);
}

// Where a document belongs: its task (or the workflow that task was a step of) and its project.
function usedBy(d) {
  const out = [];
  if (d.workflowId) out.push(link(`/workflows/${d.workflowId}`, d.workflowName || 'workflow'),
    d.workflowRunNumber ? ` run ${d.workflowRunNumber}` : '');
  else if (d.taskId) out.push(link(`/tasks/${d.taskId}`, d.taskTitle || 'task'));
  if (d.projectId) out.push(out.length ? ' · ' : '', link(`/projects/${d.projectId}`, d.projectName || 'project'));
  return out.length ? out : h('span', { class: 'muted', text: '—' });
}

// Delete, confirming first; the question names the task it is linked to. Confirmed, it goes
// with its links and bindings too (cascadeDelete): the user asked for it to be gone.
async function deleteDocument(d) {
  const linked = d.taskId ? ` It is linked to the task “${d.taskTitle || d.taskId}”.` : '';
  if (!window.confirm(`Delete “${d.originalName}” and its stored file?${linked}`)) return false;
  await api.del(`/api/documents/${encodeURIComponent(d.id)}?cascadeDelete=true`);
  toast(`Deleted ${d.originalName}.`);
  return true;
}

function dropZone(onFiles) {
  const input = h('input', { type: 'file', multiple: true, id: 'doc-files', class: 'visually-hidden' });
  const zone = h('div', { class: 'dropzone', tabindex: 0, role: 'button', 'aria-label': 'Upload files' },
    h('p', {}, h('strong', { text: 'Drop files here' }), ' or ', h('label', { for: 'doc-files', class: 'linkish' }, 'choose files'),
      '.'), h('p', { class: 'hint', text: 'PDF, Word, Excel, CSV, text, Markdown, HTML, JSON and images; at most 50 MB each.' }),
    input);
  const take = (files) => files.length && onFiles([...files]);
  input.addEventListener('change', () => {
    take(input.files);
    input.value = '';
  });
  zone.addEventListener('click', (e) => {
    if (!e.target.closest('label, input')) input.click(); // the label opens the chooser itself
  });
  zone.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      input.click();
    }
  });
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    take(e.dataTransfer.files);
  });
  return zone;
}

async function listPage(root, params, scope) {
  const page = h('div');
  root.append(page);
  const errors = h('div');
  const uploads = h('ul', { class: 'plain uploads' });
  const search = h('input', { type: 'search', name: 'search', placeholder: 'Search names and text',
    'aria-label': 'Search documents' });
  const status = h('select', { name: 'status', 'aria-label': 'Status' }, h('option', { value: '' }, 'any status'),
    options(STATUSES.map((s) => [s, s])));
  const direction = h('select', { name: 'direction', 'aria-label': 'Direction' },
    options([['', 'inputs and outputs'], ['input', 'inputs'], ['output', 'outputs']]));
  const project = h('select', { name: 'project', 'aria-label': 'Project' }, h('option', { value: '' }, 'any project'));
  const list = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  page.append(h('h1', { text: 'Documents' }),
    dropZone((files) => files.forEach(async (file) => {
      const answer = await uploadWithProgress(file, uploads);
      if (answer) load();
    })), uploads, errors,
    h('div', { class: 'toolbar' }, search, status, direction, project), list);

  let timer = null;
  scope.cleanup(() => clearTimeout(timer));
  async function load() {
    clearTimeout(timer);
    const query = new URLSearchParams();
    if (search.value.trim()) query.set('search', search.value.trim());
    for (const [key, el] of [['status', status], ['direction', direction], ['projectId', project]]) {
      if (el.value) query.set(key, el.value);
    }
    try {
      const docs = await api.get(`/api/documents?${query}`);
      if (!scope.alive) return;
      clear(list, docs.length ? table(docs) : empty(query.toString()
        ? 'No document matches these filters.' : 'No documents yet. Drop a file above to add one.'));
      if (docs.some((d) => PENDING.has(d.status))) timer = setTimeout(load, POLL_MS);
    } catch (err) {
      clear(list, errorBox(err));
    }
  }
  function table(docs) {
    return stacked(h('table', {}, h('thead', {}, h('tr', {}, ['Document', 'Status', 'Kind', 'Size', 'Used by', 'Added', '']
      .map((c) => h('th', { text: c })))),
    h('tbody', {}, docs.map((d) => {
      const del = button('Delete', () => run(del, async () => {
        if (await deleteDocument(d)) await load();
      }, errors), { class: 'danger', 'aria-label': `Delete ${d.originalName}` });
      return h('tr', { 'data-document': d.id },
        h('td', {}, link(`/documents/${d.id}`, d.originalName)),
        h('td', {}, statusBadge(d)),
        h('td', { class: 'muted' }, d.direction === 'output' ? `output v${d.version}` : 'input', ' · ', d.mimeType),
        h('td', {}, size(d.size)), h('td', {}, usedBy(d)), h('td', { class: 'muted' }, ago(d.createdAt)),
        h('td', {}, del));
    }))));
  }
  let typing = null;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(load, 250);
  });
  scope.cleanup(() => clearTimeout(typing));
  for (const el of [status, direction, project]) el.addEventListener('change', load);
  api.get('/api/projects').then((projects) => {
    project.append(...options(projects.map((p) => [p.id, p.name])));
    if (params.projectId) project.value = params.projectId;
  }).catch(() => {}).finally(load);
  scope.on('reconnected', scope.coalesce(load));
}

function viewer(d) {
  const src = `/api/documents/${encodeURIComponent(d.id)}/file?inline=1`;
  if ((d.mimeType || '').startsWith('image/')) return h('img', { src, alt: d.originalName, class: 'docview' });
  if (d.mimeType === 'application/pdf') {
    return h('iframe', { src, title: d.originalName, class: 'docview pdf' });
  }
  return null;
}

async function documentPage(root, { id }, scope) {
  const page = h('div');
  root.append(page);
  const errors = h('div');
  let timer = null;
  scope.cleanup(() => clearTimeout(timer));

  async function load() {
    clearTimeout(timer);
    let d;
    try {
      d = await api.get(`/api/documents/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err.status === 404) err.message = 'There is no such document; it may have been deleted.';
      clear(page, h('h1', { text: 'Document' }), errorBox(err), link('/documents', 'Back to the documents'));
      return;
    }
    const versions = d.direction === 'output' && d.projectId
      ? await api.get(`/api/documents/${encodeURIComponent(id)}/versions`).catch(() => []) : [];
    if (!scope.alive) return;
    const text = d.extractedText || '';
    const reprocess = button('Extract again', () => run(reprocess, async () => {
      await api.patch(`/api/documents/${encodeURIComponent(id)}`, { reprocess: true });
      await load();
    }, errors));
    const del = button('Delete', () => run(del, async () => {
      if (await deleteDocument(d)) location.hash = '#/documents';
    }, errors), { class: 'danger' });
    const shown = viewer(d);
    clear(page, h('p', {}, link('/documents', '← All documents')),
      h('h1', {}, d.originalName, ' ', statusBadge(d)),
      h('p', { class: 'muted' }, d.direction === 'output' ? `Output, version ${d.version}` : 'Input', ' · ', d.mimeType,
        ' · ', size(d.size), ' · added ', when(d.createdAt), ' · used by ', usedBy(d)),
      h('div', { class: 'row' }, h('a', { href: `/api/documents/${encodeURIComponent(id)}/file`, class: 'button' },
        'Download'), reprocess, del), errors,
      d.processingError ? h('p', { class: d.status === 'error' ? 'error' : 'muted', text: d.processingError }) : null,
      shown ? section('File', shown) : null,
      section('Extracted text', PENDING.has(d.status) ? h('p', { class: 'muted', text: 'Extracting its text…' })
        : text ? [h('pre', { class: 'doctext' }, text.slice(0, PREVIEW_CHARS)),
          text.length > PREVIEW_CHARS ? h('p', { class: 'muted',
            text: `Showing ${PREVIEW_CHARS.toLocaleString()} of ${text.length.toLocaleString()} characters.` }) : null]
          : empty('No text was extracted from this document.')),
      versions.length > 1 ? section('Versions', h('ul', { class: 'plain' }, versions.map((v) => h('li', {},
        v.id === d.id ? h('strong', { text: `v${v.version}` }) : link(`/documents/${v.id}`, `v${v.version}`),
        ' ', h('span', { class: 'muted' }, `${size(v.size)} · ${ago(v.createdAt)}`,
          v.workflowRunNumber ? ` · run ${v.workflowRunNumber}` : ''))))) : null);
    if (PENDING.has(d.status)) timer = setTimeout(load, POLL_MS);
  }
  await load();
}

export default {
  nav: { label: 'Documents', path: '/documents' },
  routes: { '/documents': listPage, '/documents/:id': documentPage },
};
