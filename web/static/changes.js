// The files a task's runs wrote or edited (GET /api/tasks/{id}/changes): each change with its
// unified diff, added lines green and removed lines red, and a Revert button
// (POST /api/tasks/{id}/changes/revert) that puts back the files still as the run left them
// and says which ones it skipped and why. Every text is set as text (h), never parsed as HTML.

import { api } from './api.js';
import { badge, button, clear, empty, errorBox, h, plural, run, toast, when } from './ui.js';

const KINDS = [['+++', 'diff-file'], ['---', 'diff-file'], ['@@', 'diff-hunk'], ['+', 'diff-add'], ['-', 'diff-del'],
  ['\\', 'diff-note']];

export function diffBlock(diff) {
  const lines = diff.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return h('pre', { class: 'diff', 'data-diff': true }, lines.map((line) => {
    const kind = KINDS.find(([prefix]) => line.startsWith(prefix));
    return h('span', { class: kind ? kind[1] : null }, `${line}\n`);
  }));
}

function changeItem(change) {
  const state = change.revertedAt ? badge('cancelled', 'reverted')
    : change.beforeHash === null ? badge('ok', 'created') : badge('running', 'edited');
  return h('details', { class: 'change', open: !change.revertedAt },
    h('summary', {}, h('code', { text: change.path }), ' ', state, ' ', h('span', { class: 'muted', text: when(change.createdAt) })),
    diffBlock(change.diff));
}

export class ChangesView {
  constructor(taskId) {
    this.taskId = taskId;
    this.el = h('section', { class: 'card', 'aria-label': 'File changes' }, h('h2', { text: 'File changes' }));
    this.result = h('div');
  }

  // Re-reads the changes; `live` (the task runs) hides Revert, which the daemon refuses then.
  async refresh(live) {
    const { changes } = await api.get(`/api/tasks/${this.taskId}/changes`);
    const open = changes.filter((c) => !c.revertedAt);
    const files = new Set(open.map((c) => c.path)).size;
    let revert = null;
    if (open.length && !live) {
      revert = button(`Revert ${plural(files, 'file')}`, () => {
        if (!window.confirm(`Put back ${plural(files, 'file')} as they were before the run? Files it created are deleted.`)) return;
        run(revert, async () => {
          const outcome = await api.post(`/api/tasks/${this.taskId}/changes/revert`);
          toast(`Reverted ${plural(outcome.reverted.length, 'file')}.`);
          await this.refresh(live);
          clear(this.result, outcome.skipped.length ? h('div', { class: 'error', role: 'status' },
            h('p', { text: `Not reverted (${plural(outcome.skipped.length, 'file')}):` }),
            h('ul', {}, outcome.skipped.map((s) => h('li', {}, h('code', { text: s.path }), ` ${s.reason}`)))) : null);
        }, this.result);
      }, { class: 'danger', title: 'Restore the files this task changed, if nobody changed them since' });
    }
    clear(this.el, h('h2', { text: 'File changes' }),
      changes.length ? [h('p', { class: 'muted' }, `${plural(changes.length, 'change')} to ${plural(new Set(changes.map((c) => c.path)).size, 'file')}`),
        revert ? h('div', { class: 'row' }, revert) : null, this.result, changes.map(changeItem)]
        : empty('No file changes. Files the agent writes or edits appear here with their diffs.'));
  }

  async safeRefresh(live) {
    try {
      await this.refresh(live);
    } catch (err) {
      clear(this.el, h('h2', { text: 'File changes' }), errorBox(err));
    }
  }
}
