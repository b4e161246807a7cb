// Slash-command completion for the chat composer: typing "/" lists the commands that match what
// follows; arrow keys choose, Tab or Enter completes, Esc closes, a click completes too.

import { clear, h } from './ui.js';

let counter = 0;

// commands: [{name, usage, about}]. Call before the composer's own keydown handler, so Enter
// completes a command while the list is open instead of sending.
export function slashMenu(input, commands) {
  const id = `slash-${++counter}`;
  const list = h('ul', { class: 'suggest', id, role: 'listbox', 'aria-label': 'Commands', hidden: true });
  let shown = [];
  let at = 0;
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-controls', id);

  const close = () => {
    list.hidden = true;
    shown = [];
    input.removeAttribute('aria-activedescendant');
  };
  const select = (i) => {
    at = i;
    [...list.children].forEach((li, j) => li.setAttribute('aria-selected', String(j === i)));
    input.setAttribute('aria-activedescendant', `${id}-${i}`);
    list.children[i]?.scrollIntoView({ block: 'nearest' });
  };
  const complete = (command) => {
    input.value = `/${command.name} `;
    close();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  };
  const update = () => {
    const m = /^\/([\w-]*)$/.exec(input.value);
    shown = m ? commands.filter((c) => c.name.startsWith(m[1].toLowerCase())) : [];
    if (!shown.length || (shown.length === 1 && `/${shown[0].name}` === input.value)) {
      close();
      return;
    }
    clear(list, shown.map((c, i) => h('li', { id: `${id}-${i}`, role: 'option', 'data-command': c.name,
      onmousedown: (event) => {
        event.preventDefault(); // keep the focus in the box
        complete(c);
      } }, h('code', {}, c.usage), h('span', { class: 'muted' }, c.about))));
    list.hidden = false;
    select(0);
  };

  input.addEventListener('input', update);
  input.addEventListener('blur', close);
  input.addEventListener('keydown', (event) => {
    if (list.hidden || !shown.length) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      select((at + (event.key === 'ArrowDown' ? 1 : shown.length - 1)) % shown.length);
    } else if (event.key === 'Tab' || (event.key === 'Enter' && !event.shiftKey)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      complete(shown[at]);
    } else if (event.key === 'Escape') {
      event.preventDefault();
      close();
    }
  });
  return list;
}
