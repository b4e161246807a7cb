// A workflow's documents: those bound to every step of its runs (POST/DELETE
// /api/workflows/{id}/documents), and attaching more (picked or uploaded) before a run.

import { api } from '../api.js';
import { documentPicker } from '../documents.js';
import { button, clear, empty, errorBox, h, link, run, section } from '../ui.js';

export function workflowDocuments(workflowId) {
  const url = `/api/workflows/${encodeURIComponent(workflowId)}/documents`;
  const bound = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const errors = h('div');
  const picker = documentPicker({ legend: 'Attach documents',
    hint: 'Every step of the next runs gets them: small ones whole, larger ones through the document tools.' });
  const attach = button('Attach to its runs', () => run(attach, async () => {
    const ids = picker.selected();
    if (!ids.length) throw new Error('Choose or upload a document first.');
    await api.post(url, { documentIds: ids });
    picker.reset();
    await load();
  }, errors), { class: 'primary' });

  async function load() {
    try {
      const bindings = await api.get(url);
      clear(bound, bindings.length ? h('ul', { class: 'plain' }, bindings.map((b) => {
        const remove = button('Remove', () => run(remove, async () => {
          await api.del(url, { documentIds: [b.documentId], ...(b.stepId ? { stepId: b.stepId } : {}) });
          await load();
        }, errors), { 'aria-label': `Remove ${b.document?.originalName || b.documentId}` });
        return h('li', { 'data-binding': b.documentId },
          b.document ? link(`/documents/${b.documentId}`, b.document.originalName) : `${b.documentId} (deleted)`,
          h('span', { class: 'muted', text: b.stepId ? ` · step ${b.stepId} only` : ' · every step' }), ' ', remove);
      })) : empty('No documents are attached to this workflow.'));
    } catch (err) {
      clear(bound, errorBox(err));
    }
  }
  load();
  return section('Documents', bound, picker.el, h('div', { class: 'row' }, attach), errors);
}
