// The tab's one EventSource: /api/events/stream multiplexes every task's log lines, every
// notification change and task status changes. Each frame's id is "<log seq>.<notification seq>";
// the browser sends the last one back as Last-Event-ID when it reconnects, so nothing is lost or
// repeated. Pages subscribe with on(kind, fn) and unsubscribe with the function it returns.
// history(taskId, fn) reads a task's lines already written, for a page that then follows the stream.

import { api } from './api.js';

const listeners = new Map(); // kind -> Set(fn): log, notification, task, status, reconnected
let source = null;
let lastId = '';
let lastSeq = 0;        // highest log seq delivered: a line at or below it is never delivered twice
let broken = false;     // an error happened since the last `ready`
let retryDelay = 1000;
let readyWaiters = [];
let isReady = false;

function emit(kind, data) {
  for (const fn of listeners.get(kind) || []) {
    try {
      fn(data);
    } catch (err) {
      console.error(err); // one page's bug must not stop the others' updates
    }
  }
}

export function on(kind, fn) {
  if (!listeners.has(kind)) listeners.set(kind, new Set());
  listeners.get(kind).add(fn);
  return () => listeners.get(kind).delete(fn);
}

// Resolves once the stream is connected: from then on every new line reaches subscribers.
export function ready() {
  return isReady ? Promise.resolve() : new Promise((resolve) => readyWaiters.push(resolve));
}

function setStatus(status) {
  emit('status', status);
}

function remember(event) {
  if (event.lastEventId) lastId = event.lastEventId;
}

function connect() {
  const url = '/api/events/stream' + (lastId ? `?lastEventId=${encodeURIComponent(lastId)}` : '');
  source = new EventSource(url);
  source.addEventListener('ready', (event) => {
    remember(event);
    isReady = true;
    retryDelay = 1000;
    setStatus('live');
    readyWaiters.forEach((resolve) => resolve());
    readyWaiters = [];
    if (broken) emit('reconnected'); // hints sent while away are gone: pages re-read their lists
    broken = false;
  });
  source.addEventListener('log', (event) => {
    remember(event);
    const line = JSON.parse(event.data);
    if (line.seq <= lastSeq) return;
    lastSeq = line.seq;
    emit('log', line);
  });
  for (const kind of ['notification', 'task']) {
    source.addEventListener(kind, (event) => {
      remember(event);
      emit(kind, JSON.parse(event.data));
    });
  }
  source.onerror = () => {
    broken = true;
    isReady = false;
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. the daemon answered with an error while restarting): retry
      // ourselves, resuming from the last id through the query string.
      setStatus('offline');
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    } else {
      setStatus('reconnecting');
    }
  };
}

export function start() {
  if (!source) connect();
}

// Calls fn with each line the task has written so far, oldest first (/api/events/logs, a page at
// a time). Read it after ready(): then every later line arrives on the stream; the two overlap,
// so the caller skips a seq it already has.
export async function history(taskId, fn) {
  let after = 0;
  for (;;) {
    const page = await api.get(`/api/events/logs?taskId=${encodeURIComponent(taskId)}&after=${after}`);
    page.lines.forEach(fn);
    if (!page.more || !page.lines.length) return;
    after = page.lines[page.lines.length - 1].seq;
  }
}
