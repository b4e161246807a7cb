// The import wizard: a CSV, TSV or XLSX document (uploaded here, or one already uploaded, by
// its id) → a preview with the inferred column types → a mapping (name, type, skip) → import,
// with the rows that were refused listed by line.

import { api } from '../api.js';
import { button, clear, field, h, options, run, toast } from '../ui.js';

const TYPES = ['text', 'number', 'date', 'boolean', 'select', 'url', 'email'];

async function upload(file) {
  const form = new FormData();
  form.append('file', file);
  const response = await fetch('/api/uploads', { method: 'POST', body: form, credentials: 'same-origin' });
  const body = await response.json().catch(() => null);
  if (response.status === 404 || response.status === 405) {
    throw new Error('Uploading is not available on this daemon; give the id of an uploaded document instead.');
  }
  if (!response.ok) throw new Error((body && body.error) || `The upload failed (${response.status}).`);
  return body.id || body.documentId;
}

function mappingTable(preview, ctx) {
  const existing = Object.fromEntries(ctx.columns.map((c) => [c.name, c]));
  const rows = preview.inferredColumns.map((col, i) => {
    const target = existing[col.name];
    const name = h('input', { type: 'text', value: col.name, 'aria-label': `Column name for ${preview.headers[i]}`,
      maxlength: 64 });
    const type = h('select', { 'aria-label': `Type of ${preview.headers[i]}` },
      options(TYPES.map((t) => [t, t]), target ? target.dataType : col.dataType));
    const skip = h('input', { type: 'checkbox', 'aria-label': `Skip ${preview.headers[i]}` });
    const sample = preview.sampleRows.slice(0, 3).map((r) => r[preview.headers[i]]).filter((v) => v !== null).join(', ');
    return { header: preview.headers[i], name, type, skip,
      tr: h('tr', {}, h('td', { text: preview.headers[i] }), h('td', {}, name), h('td', {}, type),
        h('td', {}, skip), h('td', { class: 'muted', text: sample })) };
  });
  const table = h('table', { 'aria-label': 'Column mapping' }, h('thead', {}, h('tr', {},
    ['In the file', 'Column', 'Type', 'Skip', 'Sample'].map((t) => h('th', { text: t })))),
  h('tbody', {}, rows.map((r) => r.tr)));
  table.mapping = () => rows.map((r) => (r.skip.checked ? { header: r.header, skip: true }
    : { header: r.header, name: r.name.value.trim(), displayName: r.header, dataType: r.type.value }));
  return table;
}

export function importWizard(ctx) {
  const box = h('div', { class: 'wizard' });
  const file = h('input', { type: 'file', accept: '.csv,.tsv,.xlsx', 'aria-label': 'File to import' });
  const docId = h('input', { type: 'text', 'aria-label': 'Document id', placeholder: 'or the id of an uploaded document' });
  const step = h('div');
  const errors = h('div');
  const previewButton = button('Preview', () => run(previewButton, async () => {
    let documentId = docId.value.trim();
    if (!documentId && file.files.length) documentId = await upload(file.files[0]);
    if (!documentId) throw new Error('Choose a CSV, TSV or XLSX file first.');
    docId.value = documentId;
    const preview = await api.post(`/api/tables/${ctx.table.id}/import`, { documentId, preview: true });
    const mapping = mappingTable(preview, ctx);
    const go = button(`Import ${preview.totalRows} rows`, () => run(go, async () => {
      const result = await api.post(`/api/tables/${ctx.table.id}/import`, { documentId, columnMapping: mapping.mapping() });
      toast(`Imported ${result.rowsImported} rows.`);
      clear(step, h('p', { class: 'notice', role: 'status' },
        `Imported ${result.rowsImported} rows; ${result.rowsSkipped} skipped.`),
      result.errors.length ? h('ul', { class: 'plain', 'aria-label': 'Rows not imported' },
        result.errors.map((e) => h('li', {}, `Line ${e.row}: ${e.error}`))) : null);
      await ctx.reload({ columns: true });
    }, errors), { class: 'primary' });
    clear(step, h('p', { class: 'muted' }, `${preview.totalRows} rows in the file; the first ${preview.sampleRows.length} are shown. `
      + 'A name the table already has fills that column.'), mapping, go);
  }, errors));
  box.append(h('div', { class: 'row' }, field('File', file), field('Document', docId), previewButton), errors, step);
  return box;
}
