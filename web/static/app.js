// Entry point: the nav (a menu on a phone), the one live-update stream, the router, search
// everything (Ctrl/Cmd-K) and the `/` shortcut.

import { api } from './api.js';
import * as events from './events.js';
import { pages } from './pages/index.js';
import { openPalette, setPages } from './palette.js';
import { startRouter } from './router.js';

const live = document.getElementById('live');
const LABELS = { live: 'live', reconnecting: 'reconnecting…', offline: 'offline: retrying…' };
events.on('status', (status) => {
  live.textContent = LABELS[status] || status;
  live.dataset.status = status;
});
events.start();
startRouter(pages, document.getElementById('main'), document.getElementById('nav'));
setPages(pages);

// On a narrow screen the nav is a menu under the Menu button; it closes after a choice.
const top = document.getElementById('top');
const menu = document.getElementById('menu');
const setMenu = (open) => {
  top.classList.toggle('open', open);
  menu.setAttribute('aria-expanded', String(open));
};
menu.addEventListener('click', () => setMenu(!top.classList.contains('open')));
window.addEventListener('hashchange', () => setMenu(false));
document.addEventListener('click', (event) => {
  if (top.classList.contains('open') && !top.contains(event.target)) setMenu(false);
});
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && top.classList.contains('open')) {
    setMenu(false);
    menu.focus();
  }
});
document.getElementById('find').addEventListener('click', openPalette);

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

// Ctrl/Cmd-K searches everything, anywhere. `/` focuses the page's search box or the chat
// composer (any element marked data-slash), or searches everything on a page without one.
document.addEventListener('keydown', (event) => {
  if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === 'k') {
    event.preventDefault();
    openPalette();
    return;
  }
  if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
  const active = document.activeElement;
  if (active && (active.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(active.tagName))) return;
  if (document.querySelector('dialog[open]')) return;
  event.preventDefault();
  const target = document.querySelector('main [data-slash]');
  if (target) target.focus();
  else openPalette();
});
