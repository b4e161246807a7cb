// Documents shared by the pages: uploading a file with progress (XHR: fetch cannot report
// upload progress), and a picker to attach documents to a new task or a workflow's runs.

import { ApiError, api, errorMessage } from './api.js';
import { badge, clear, errorBox, h } from './ui.js';

export const PENDING = new Set(['uploaded', 'processing']);

export function size(bytes) {
  if (bytes === null || bytes === undefined) return '—';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// POST /api/uploads as multipart; onProgress(fraction 0..1) while the body goes out.
// Resolves to the upload's answer ({id, filename, originalName, size, type, taskId}).
export function uploadFile(file, { taskId, onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const body = new FormData();
    body.append('file', file, file.name);
    if (taskId) body.append('taskId', taskId);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/uploads');
    xhr.withCredentials = true;
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(errorMessage(data, xhr.status), xhr.status, data));
    });
    xhr.addEventListener('error', () => reject(new ApiError('Cannot reach the stagent daemon. Is it still running?')));
    xhr.addEventListener('abort', () => reject(new ApiError('The upload was cancelled.')));
    xhr.send(body);
  });
}

// One file's upload as a line with a progress bar; resolves to the upload's answer or null.
export async function uploadWithProgress(file, list, opts = {}) {
  const bar = h('progress', { max: 1, value: 0, 'aria-label': `Uploading ${file.name}` });
  const note = h('span', { class: 'muted', text: size(file.size) });
  const item = h('li', { 'data-upload': file.name }, file.name, ' ', bar, ' ', note);
  list.append(item);
  try {
    const answer = await uploadFile(file, { ...opts, onProgress: (f) => {
      bar.value = f;
      note.textContent = `${Math.round(f * 100)} % of ${size(file.size)}`;
    } });
    bar.value = 1;
    clear(note, 'uploaded; extracting its text…');
    return answer;
  } catch (err) {
    bar.remove();
    clear(note, errorBox(err));
    return null;
  }
}

// A filterable checkbox list of documents with an upload field; `selected()` gives the ids.
// Wrapped in a <details>: the list loads when it is first opened.
export function documentPicker({ legend = 'Documents', hint = 'The agent gets their text.' } = {}) {
  const chosen = new Set();
  let all = [];
  const filter = h('input', { type: 'search', placeholder: 'Filter documents', 'aria-label': 'Filter documents' });
  const list = h('ul', { class: 'plain picker' });
  const uploads = h('ul', { class: 'plain' });
  const file = h('input', { type: 'file', multiple: true, 'aria-label': 'Upload and attach files' });
  const box = h('fieldset', { class: 'docpicker' }, h('legend', { text: legend }),
    h('p', { class: 'hint', text: hint }), h('div', { class: 'row' }, filter, file), uploads, list);
  const el = h('details', { class: 'attach' }, h('summary', { text: legend }), box);
  el.addEventListener('toggle', () => el.open && open());

  const draw = () => {
    const needle = filter.value.trim().toLowerCase();
    const shown = all.filter((d) => chosen.has(d.id) || !needle || d.originalName.toLowerCase().includes(needle))
      .slice(0, 50);
    clear(list, shown.length ? shown.map((d) => h('li', {}, h('label', { class: 'inline' },
      h('input', { type: 'checkbox', value: d.id, checked: chosen.has(d.id),
        onchange: (e) => (e.target.checked ? chosen.add(d.id) : chosen.delete(d.id)) }),
      d.originalName, ' ', badge(d.status === 'ready' ? 'ok' : d.status, d.status),
      d.direction === 'output' ? h('span', { class: 'tag', text: ` output v${d.version}` }) : null)))
      : h('li', { class: 'muted', text: all.length ? 'No document matches.' : 'No documents yet: upload one here.' }));
  };
  const load = async () => {
    try {
      all = await api.get('/api/documents');
      draw();
    } catch (err) {
      clear(list, h('li', {}, errorBox(err)));
    }
  };
  filter.addEventListener('input', draw);
  file.addEventListener('change', async () => {
    const files = [...file.files];
    file.value = '';
    for (const f of files) {
      const answer = await uploadWithProgress(f, uploads);
      if (answer) chosen.add(answer.id);
    }
    await load();
  });
  let loaded = false;
  // Loaded when first shown (open()), not with every form that holds a picker.
  const open = () => {
    if (!loaded) load();
    loaded = true;
  };
  const reset = () => {
    chosen.clear();
    clear(uploads);
    if (loaded) load();
  };
  return { el, open, selected: () => [...chosen], reset };
}
