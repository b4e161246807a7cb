// Schedules: create one from plain words or cron with a preview of its next five fire times,
// the list (in words, with the time zone and the next three runs) with edit, pause/resume, run
// now; and the heartbeat's settings and checks.

import { api } from '../api.js';
import { ago, badge, button, clear, empty, errorBox, explain, field, h, link, options, plural, run, section, stacked,
  toast, when } from '../ui.js';

const PREVIEW_COUNT = 5;
const DEBOUNCE_MS = 600;
const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

// Text that cannot be a whole interval yet ("every monday at", "*/15 *"): no request is sent
// for it, so typing does not fill the console with the parser's 400s.
function unfinishedPhrase(text) {
  const t = text.trim().toLowerCase();
  if (t.length < 2) return true;
  if (/(?:^|\s)(?:at|on|every|each|and|of|in|the|past|a|an|to|from|between|after|before)$/.test(t)) return true;
  if (/[,:&.-]$/.test(t)) return true;
  const fields = t.split(/\s+/);
  return fields.length < 5 && fields.every((f) => /^[\d*/,-]+$/.test(f)); // a cron (or "5") half typed
}

function preview(box, zoneInput) {
  let timer = null;
  let asked = '';
  return (expression) => {
    clearTimeout(timer);
    const timeZone = zoneInput.value.trim();
    asked = `${expression}|${timeZone}`;
    const current = asked;
    if (!expression.trim()) {
      clear(box, h('p', { class: 'hint' }, 'Type when it should run, e.g. “every weekday at 9am” or “*/15 * * * *”.'));
      return;
    }
    if (unfinishedPhrase(expression)) {
      clear(box, h('p', { class: 'hint' }, 'Keep typing: the preview shows when the phrase is complete.'));
      return;
    }
    box.setAttribute('aria-busy', 'true');
    timer = setTimeout(async () => {
      try {
        // `validate`: a phrase the parser cannot read is an answer, not a 400 in the console.
        const parsed = await api.post('/api/schedules/parse', { expression, count: PREVIEW_COUNT,
          timeZone: timeZone || undefined, validate: true });
        if (asked !== current) return;
        if (!parsed.valid) {
          clear(box, errorBox({ message: parsed.error }));
          return;
        }
        const zoneNote = parsed.timeZone === BROWSER_ZONE ? `your time, ${BROWSER_ZONE}`
          : `it runs on ${parsed.timeZone} time; shown in your time, ${BROWSER_ZONE}`;
        clear(box, h('p', {}, h('strong', {}, parsed.description), ' ', h('code', {}, parsed.cronExpression)),
          h('p', { class: 'hint' }, `Next ${plural(parsed.nextFireTimes.length, 'run')} (${zoneNote}):`),
          h('ol', { 'data-preview': true }, parsed.nextFireTimes.map((t) => h('li', {}, when(t)))));
      } catch (err) {
        if (asked === current) clear(box, errorBox(err));
      } finally {
        if (asked === current) box.removeAttribute('aria-busy');
      }
    }, DEBOUNCE_MS);
  };
}

// The fields of a schedule (new or edited), with the live preview of "When".
function scheduleFields(projects, schedule = {}) {
  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200, placeholder: 'Morning digest',
    value: schedule.name || '' });
  const previewBox = h('div', { class: 'schedule-preview', 'aria-live': 'polite' });
  const interval = h('input', { type: 'text', name: 'interval', required: true, maxlength: 200,
    placeholder: 'every weekday at 9am', value: schedule.cronExpression || '' });
  const prompt = h('textarea', { name: 'prompt', required: !schedule.id, maxlength: 20000,
    placeholder: 'What the task does each time, e.g. Summarise yesterday’s failed tasks' }, schedule.prompt || '');
  const project = h('select', { name: 'project' }, options([['', 'No project'], ...projects.map((p) => [p.id, p.name])],
    schedule.projectId || ''));
  const zonesId = `time-zones-${Math.random().toString(36).slice(2, 8)}`;
  const zone = h('input', { type: 'text', name: 'timeZone', maxlength: 64, list: zonesId,
    placeholder: 'the computer’s local time', value: schedule.timeZone || '' });
  const zones = h('datalist', { id: zonesId }, [BROWSER_ZONE, 'UTC', 'Europe/London', 'Europe/Berlin',
    'America/New_York', 'America/Los_Angeles', 'Asia/Tokyo'].map((z) => h('option', { value: z })));
  const show = preview(previewBox, zone);
  interval.addEventListener('input', () => show(interval.value));
  zone.addEventListener('input', () => show(interval.value));
  return { name, interval, prompt, project, previewBox, show, zone, zones };
}

function createForm(projects, onCreated) {
  const f = scheduleFields(projects);
  f.previewBox.id = 'schedule-preview';
  f.interval.setAttribute('aria-describedby', 'schedule-preview');
  f.show('');
  const errors = h('div');
  const form = h('form', { 'aria-label': 'New schedule' }, field('Name', f.name),
    field('When', f.interval, 'Plain words, shorthand (5m, 2h) or a cron expression'),
    field('Time zone', f.zone, 'The zone “9am” means; empty for the computer’s local time'), f.zones, f.previewBox,
    field('Prompt', f.prompt), field('Project', f.project), errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create schedule')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const schedule = await api.post('/api/schedules', { name: f.name.value.trim(), interval: f.interval.value.trim(),
        prompt: f.prompt.value.trim(), projectId: f.project.value || undefined,
        timeZone: f.zone.value.trim() || undefined });
      form.reset();
      f.show('');
      toast(`Schedule “${schedule.name}” created; next run ${when(schedule.nextFireAt)}.`);
      onCreated(schedule);
    }, errors);
  });
  return form;
}

// Edit in place (PATCH /api/schedules/{id}); "When" starts as the stored cron and is sent only
// when changed.
function editForm(s, projects, done, cancel) {
  const f = scheduleFields(projects, s);
  f.show(s.cronExpression);
  const errors = h('div');
  const form = h('form', { 'aria-label': `Edit schedule ${s.name}`, class: 'edit-schedule' },
    h('div', { class: 'grid' }, h('div', {}, field('Name', f.name),
      field('When', f.interval, 'Plain words, shorthand (5m, 2h) or a cron expression'),
      field('Time zone', f.zone, 'Empty for the computer’s local time'), f.zones, f.previewBox),
    h('div', {}, field('Prompt', f.prompt), field('Project', f.project))), errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save schedule'),
      button('Cancel', cancel)));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const changes = { name: f.name.value.trim(), prompt: f.prompt.value.trim() || null, projectId: f.project.value || null };
      if (f.interval.value.trim() !== s.cronExpression) changes.interval = f.interval.value.trim();
      if (f.zone.value.trim() !== (s.timeZone || '')) changes.timeZone = f.zone.value.trim() || null;
      const saved = await api.patch(`/api/schedules/${s.id}`, changes);
      toast(`Schedule “${saved.name}” saved; next run ${when(saved.nextFireAt)}.`);
      await done();
    }, errors);
  });
  setTimeout(() => f.name.focus());
  return form;
}

// The next three runs, as the daemon computes them in the schedule's own zone.
function nextRuns(s) {
  const times = s.nextFireTimes || [];
  if (s.status !== 'active' || !times.length) return s.status === 'paused' ? 'paused' : '—';
  return [h('ol', { class: 'runs', 'data-next-runs': true }, times.slice(0, 3).map((t) => h('li', {}, when(t)))),
    h('div', { class: 'muted' }, ago(times[0]))];
}

function scheduleRow(s, ctx) {
  const { reload, errors, notice, projects } = ctx;
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
  const edit = button('Edit', () => ctx.edit(s.id));
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
  const row = h('tr', { 'data-schedule': s.name },
    h('td', {}, h('strong', {}, s.name), h('div', { class: 'muted' }, s.prompt?.slice(0, 120) || ''), history),
    h('td', {}, h('div', { 'data-words': true }, s.description || s.cronExpression),
      h('div', { class: 'muted' }, h('code', {}, s.cronExpression), ' · ',
        s.timeZone ? `time zone ${s.timeZone}` : `the computer’s local time (${s.effectiveTimeZone || 'local'})`),
      s.type === 'heartbeat' ? h('div', {}, badge('heartbeat')) : null),
    h('td', {}, badge(s.status)),
    h('td', {}, nextRuns(s)),
    h('td', {}, s.lastFiredAt ? [when(s.lastFiredAt), h('div', { class: 'muted' }, plural(s.firingCount, 'run'))]
      : 'never'),
    h('td', {}, h('div', { class: 'row' }, edit, toggle, now, del)));
  if (ctx.editing !== s.id) return row;
  return [row, h('tr', { class: 'editing' }, h('td', { colspan: 6, class: 'no-label' },
    editForm(s, projects, async () => {
      ctx.editing = null;
      await reload();
    }, () => ctx.edit(null))))];
}

function heartbeatCard() {
  const body = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const results = h('div', { 'aria-live': 'polite' });
  const card = section('Heartbeat', h('p', { class: 'muted' },
    'Checks stagent itself on a timer (failed workflows, deployments, credits, models) and reports problems.'), body, results);
  const showRun = (r) => clear(results, h('h3', {}, 'Last run ', badge(r.healthy ? 'healthy' : 'warning'),
    ' ', h('span', { class: 'muted' }, r.finishedAt ? ago(r.finishedAt) : 'just now')),
  h('ul', { class: 'plain' }, r.results.map((c) => h('li', {}, badge(c.status), ` ${c.check}: `, explain(c.message)))));
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
  let rows = [];
  const ctx = { errors, notice, projects, editing: null, reload: null, edit: null };
  const draw = () => {
    clear(body, rows.length ? stacked(h('table', {}, h('thead', {}, h('tr', {},
      ['Schedule', 'When', 'Status', 'Next runs', 'Last run', ''].map((c) => h('th', { text: c })))),
    h('tbody', {}, rows.map((s) => scheduleRow(s, ctx)))))
      : empty('No schedules yet. Describe when a task should run, e.g. “every weekday at 9am”, and press Create schedule.'));
  };
  const load = async () => {
    try {
      rows = await api.get('/api/schedules');
      if (scope.alive) draw();
    } catch (err) {
      clear(body, errorBox(err));
    }
  };
  ctx.reload = load;
  ctx.edit = (id) => {
    ctx.editing = id;
    draw();
  };
  page.append(section('New schedule', createForm(projects, load)),
    section('All schedules', h('p', { class: 'hint' }, `Times are shown in your time zone (${BROWSER_ZONE}).`),
      notice, errors, body), heartbeatCard());
  await load();
  // A firing creates a task: last and next run changed. Not while a schedule is being edited.
  const later = scope.coalesce(() => ctx.editing || load(), 1000);
  scope.on('task', later);
  scope.on('reconnected', later);
}

export default { nav: { label: 'Schedules', path: '/schedules' }, routes: { '/schedules': schedules } };
