// Schedules: create one from plain words or cron with a preview of its next five fire times,
// the list with next/last run, pause/resume, run now; and the heartbeat's settings and checks.

import { api } from '../api.js';
import { ago, badge, button, clear, empty, errorBox, field, h, link, options, run, section, toast, when } from '../ui.js';

const PREVIEW_COUNT = 5;

function preview(box) {
  let timer = null;
  let asked = '';
  return (expression) => {
    clearTimeout(timer);
    if (!expression.trim()) {
      clear(box, h('p', { class: 'hint' }, 'Type when it should run, e.g. “every weekday at 9am” or “*/15 * * * *”.'));
      return;
    }
    timer = setTimeout(async () => {
      asked = expression;
      try {
        const parsed = await api.post('/api/schedules/parse', { expression, count: PREVIEW_COUNT });
        if (asked !== expression) return;
        clear(box, h('p', {}, h('strong', {}, parsed.description), ' ', h('code', {}, parsed.cronExpression)),
          h('p', { class: 'hint' }, `Next ${parsed.nextFireTimes.length} runs:`),
          h('ol', { 'data-preview': true }, parsed.nextFireTimes.map((t) => h('li', {}, when(t)))));
      } catch (err) {
        if (asked === expression) clear(box, errorBox(err));
      }
    }, 250);
  };
}

function createForm(projects, onCreated) {
  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200, placeholder: 'Morning digest' });
  const interval = h('input', { type: 'text', name: 'interval', required: true, maxlength: 200,
    placeholder: 'every weekday at 9am', 'aria-describedby': 'schedule-preview' });
  const prompt = h('textarea', { name: 'prompt', required: true, maxlength: 20000,
    placeholder: 'What the task does each time, e.g. Summarise yesterday’s failed tasks' });
  const project = h('select', { name: 'project' }, options([['', 'No project'], ...projects.map((p) => [p.id, p.name])]));
  const previewBox = h('div', { id: 'schedule-preview', 'aria-live': 'polite' });
  const show = preview(previewBox);
  show('');
  interval.addEventListener('input', () => show(interval.value));
  const errors = h('div');
  const form = h('form', { 'aria-label': 'New schedule' }, field('Name', name),
    field('When', interval, 'Plain words, shorthand (5m, 2h) or a cron expression'), previewBox,
    field('Prompt', prompt), field('Project', project), errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create schedule')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const schedule = await api.post('/api/schedules', { name: name.value.trim(), interval: interval.value.trim(),
        prompt: prompt.value.trim(), projectId: project.value || undefined });
      form.reset();
      show('');
      toast(`Schedule “${schedule.name}” created; next run ${when(schedule.nextFireAt)}.`);
      onCreated(schedule);
    }, errors);
  });
  return form;
}

function scheduleRow(s, reload, errors, notice) {
  const toggle = button(s.status === 'active' ? 'Pause' : 'Resume', () => run(toggle, async () => {
    await api.patch(`/api/schedules/${s.id}`, { status: s.status === 'active' ? 'paused' : 'active' });
    await reload();
  }, errors));
  const now = button('Run now', () => run(now, async () => {
    const fired = await api.post(`/api/schedules/${s.id}/execute`);
    clear(notice, h('p', { class: 'notice' }, `“${s.name}” started: `, link(`/tasks/${fired.taskId}`, 'open its task'),
      ' to watch the run.'));
  }, errors));
  const del = button('Delete', () => {
    if (!window.confirm(`Delete the schedule “${s.name}”? The tasks it created stay.`)) return;
    run(del, async () => {
      await api.del(`/api/schedules/${s.id}`);
      await reload();
    }, errors);
  }, { class: 'danger' });
  const history = h('details', { ontoggle: async (event) => {
    if (!event.target.open || history.dataset.loaded) return;
    history.dataset.loaded = 'yes';
    try {
      const full = await api.get(`/api/schedules/${s.id}`);
      const firings = full.firingHistory || [];
      history.append(firings.length ? h('ul', {}, firings.slice(0, 10).map((f) => h('li', {},
        `#${f.number} ${when(f.firedAt)} ${f.outcome}${f.reason ? ` (${f.reason})` : ''} `,
        f.taskId ? [link(`/tasks/${f.taskId}`, f.title || 'task'), ' ', badge(f.status)] : null)))
        : h('p', { class: 'muted' }, 'It has not fired yet.'));
    } catch (err) {
      history.append(errorBox(err));
    }
  } }, h('summary', {}, 'Firing history'));
  return h('tr', { 'data-schedule': s.name },
    h('td', {}, h('strong', {}, s.name), h('div', { class: 'muted' }, s.prompt?.slice(0, 120) || ''), history),
    h('td', {}, h('code', {}, s.cronExpression), s.type === 'heartbeat' ? h('div', {}, badge('heartbeat')) : null),
    h('td', {}, badge(s.status)),
    h('td', {}, s.nextFireAt ? [when(s.nextFireAt), h('div', { class: 'muted' }, ago(s.nextFireAt))] : '—'),
    h('td', {}, s.lastFiredAt ? [when(s.lastFiredAt), h('div', { class: 'muted' }, `${s.firingCount} runs`)] : 'never'),
    h('td', {}, h('div', { class: 'row' }, toggle, now, del)));
}

function heartbeatCard() {
  const body = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const results = h('div', { 'aria-live': 'polite' });
  const card = section('Heartbeat', h('p', { class: 'muted' },
    'Checks stagent itself on a timer (failed workflows, deployments, credits, models) and reports problems.'), body, results);
  const showRun = (r) => clear(results, h('h3', {}, 'Last run ', badge(r.healthy ? 'healthy' : 'warning'),
    ' ', h('span', { class: 'muted' }, r.finishedAt ? ago(r.finishedAt) : 'just now')),
  h('ul', { class: 'plain' }, r.results.map((c) => h('li', {}, badge(c.status), ` ${c.check}: ${c.message}`))));
  (async () => {
    let config;
    try {
      config = await api.get('/api/v1/stan/heartbeat');
    } catch (err) {
      clear(body, errorBox(err));
      return;
    }
    const enabled = h('input', { type: 'checkbox', checked: config.enabled });
    const minutes = h('input', { type: 'number', min: 5, max: 1440, value: config.intervalMinutes, 'aria-label': 'Minutes' });
    const checks = config.availableChecks.map((name) => h('label', { class: 'inline' },
      h('input', { type: 'checkbox', value: name, checked: config.checks.includes(name) }), name));
    const errors = h('div');
    const save = h('button', { type: 'submit', class: 'primary' }, 'Save heartbeat');
    const runNow = button('Run checks now', () => run(runNow, async () => {
      showRun(await api.post('/api/v1/stan/heartbeat/run'));
    }, errors));
    const form = h('form', { 'aria-label': 'Heartbeat settings' },
      h('label', { class: 'inline' }, enabled, 'Enabled'),
      h('div', { class: 'row' }, h('span', {}, 'Every'), minutes, h('span', {}, 'minutes')),
      h('fieldset', {}, h('legend', {}, 'Checks'), h('div', { class: 'row' }, checks)),
      errors, h('div', { class: 'actions' }, save, runNow));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      run(save, async () => {
        await api.put('/api/v1/stan/heartbeat', { enabled: enabled.checked, intervalMinutes: Number(minutes.value),
          checks: checks.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value) });
        toast('Heartbeat saved.');
      }, errors);
    });
    clear(body, form);
    try {
      const [last] = await api.get('/api/v1/stan/heartbeat/history?limit=1');
      if (last) showRun(last);
      else clear(results, h('p', { class: 'muted' }, 'It has not run yet. Press “Run checks now” to see its results.'));
    } catch (err) {
      clear(results, errorBox(err));
    }
  })();
  return card;
}

async function schedules(root, params, scope) {
  const page = h('div');
  root.append(page);
  page.append(h('h1', { text: 'Schedules' }));
  const projects = await api.get('/api/projects');
  const body = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const errors = h('div');
  const notice = h('div', { 'aria-live': 'polite' });
  const load = async () => {
    try {
      const rows = await api.get('/api/schedules');
      clear(body, rows.length ? h('table', {}, h('thead', {}, h('tr', {},
        ['Schedule', 'When', 'Status', 'Next run', 'Last run', ''].map((c) => h('th', { text: c })))),
      h('tbody', {}, rows.map((s) => scheduleRow(s, load, errors, notice))))
        : empty('No schedules yet. Describe when a task should run, e.g. “every weekday at 9am”, and press Create schedule.'));
    } catch (err) {
      clear(body, errorBox(err));
    }
  };
  page.append(section('New schedule', createForm(projects, load)), section('All schedules', notice, errors, body), heartbeatCard());
  await load();
  const later = scope.coalesce(load, 1000);
  scope.on('task', later); // a firing creates a task: last/next run changed
  scope.on('reconnected', later);
}

export default { nav: { label: 'Schedules', path: '/schedules' }, routes: { '/schedules': schedules } };
