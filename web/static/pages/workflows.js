// Workflows: a stub until the workflows engine (issue 6) lands; replace this module to add the page.

import { empty, h } from '../ui.js';

async function list(root) {
  root.append(h('h1', { text: 'Workflows' }),
    empty('Workflows arrive with the workflows engine. Until then, run single tasks from the Tasks page ' +
      'or repeat them with a schedule.', h('a', { href: '#/tasks' }, 'Go to Tasks')));
}

export default { nav: { label: 'Workflows', path: '/workflows' }, routes: { '/workflows': list } };
