// Hash routes (#/tasks/<id>): each page module declares its nav entry and its views; a view is
// `async (root, params, scope) => void`. The scope ends when the user navigates away: its
// subscriptions and timers stop, and `scope.alive` tells late async work to drop its result.

import * as events from './events.js';
import { clear, errorBox, h } from './ui.js';

export class Scope {
  constructor() {
    this.alive = true;
    this.cleanups = [];
  }

  on(kind, fn) {
    this.cleanups.push(events.on(kind, (data) => this.alive && fn(data)));
  }

  cleanup(fn) {
    this.cleanups.push(fn);
  }

  // A function that runs fn once for a burst of calls (many log lines -> one list refresh).
  coalesce(fn, ms = 250) {
    let timer = null;
    this.cleanup(() => clearTimeout(timer));
    return () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        if (this.alive) fn();
      }, ms);
    };
  }

  close() {
    this.alive = false;
    this.cleanups.splice(0).forEach((fn) => fn());
  }
}

function compile(pattern) {
  const keys = [];
  const source = pattern.replace(/:(\w+)/g, (_, key) => {
    keys.push(key);
    return '([^/]+)';
  });
  return { regex: new RegExp(`^${source}/?$`), keys };
}

export function startRouter(pages, main, nav) {
  const routes = [];
  for (const page of pages) {
    for (const [pattern, view] of Object.entries(page.routes)) {
      routes.push({ page, view, ...compile(pattern) });
    }
  }
  const links = pages.filter((p) => p.nav).map((page) => {
    const a = h('a', { href: `#${page.nav.path}`, text: page.nav.label });
    nav.append(a);
    return { page, a };
  });
  let scope = null;
  let first = true;

  async function render() {
    const path = decodeURI(location.hash.replace(/^#/, '')) || '/';
    scope?.close();
    scope = new Scope();
    const current = scope;
    const route = routes.find((r) => r.regex.test(path));
    for (const { page, a } of links) {
      if (route && route.page === page) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    clear(main);
    if (!route) {
      document.title = 'Not found · stagent';
      main.append(h('h1', { text: 'Not found' }), h('p', {}, 'No page lives at this address. ',
        h('a', { href: '#/' }, 'Go home'), '.'));
      return;
    }
    const match = path.match(route.regex);
    const params = Object.fromEntries(route.keys.map((key, i) => [key, match[i + 1]]));
    document.title = `${route.page.nav ? route.page.nav.label : route.page.title} · stagent`;
    if (!first) main.focus({ preventScroll: true });
    first = false;
    try {
      await route.view(main, params, current);
    } catch (err) {
      if (current.alive) main.append(errorBox(err));
    }
  }

  window.addEventListener('hashchange', render);
  render();
}
