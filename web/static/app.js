// Entry point: the nav, the one live-update stream, the router and the `/` shortcut.

import { api } from './api.js';
import * as events from './events.js';
import { pages } from './pages/index.js';
import { startRouter } from './router.js';

const live = document.getElementById('live');
const LABELS = { live: 'live', reconnecting: 'reconnecting…', offline: 'offline: retrying…' };
events.on('status', (status) => {
  live.textContent = LABELS[status] || status;
  live.dataset.status = status;
});
events.start();
startRouter(pages, document.getElementById('main'), document.getElementById('nav'));

// The Inbox link carries the number of requests waiting for an answer.
const waiting = document.createElement('span');
waiting.className = 'count';
waiting.hidden = true;
document.querySelector('#nav a[href="#/inbox"]')?.append(waiting);
let countTimer = null;
async function countWaiting() {
  countTimer = null;
  try {
    const items = await api.get('/api/notifications/pending-approvals');
    waiting.textContent = String(items.length);
    waiting.title = `${items.length} waiting for your answer`;
    waiting.hidden = !items.length;
  } catch {
    waiting.hidden = true; // the pages show the error; the badge just goes away
  }
}
const countLater = () => {
  countTimer = countTimer || setTimeout(countWaiting, 300);
};
events.on('notification', countLater);
events.on('reconnected', countLater);
countWaiting();

// `/` focuses the page's search box or the chat composer (any element marked data-slash).
document.addEventListener('keydown', (event) => {
  if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
  const active = document.activeElement;
  if (active && (active.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(active.tagName))) return;
  const target = document.querySelector('main [data-slash]');
  if (target) {
    event.preventDefault();
    target.focus();
  }
});
