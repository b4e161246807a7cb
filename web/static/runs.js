// Starting a task from whatever state it is in: the API runs only `queued` tasks, and the status
// machine decides the steps (planned -> queued; completed/cancelled -> planned -> queued).

import { api } from './api.js';
import { badge } from './ui.js';

const STEPS = {
  planned: ['queued'],
  queued: [],
  failed: ['queued'],
  cancelled: ['planned', 'queued'],
  completed: ['planned', 'queued'],
};

export async function startRun(task) {
  const steps = STEPS[task.status];
  if (!steps) throw new Error(`A ${task.status} task cannot be started.`);
  for (const status of steps) await api.patch(`/api/tasks/${task.id}`, { status });
  await api.post(`/api/tasks/${task.id}/execute`);
}

export async function createAndRun(fields, { run = true } = {}) {
  const task = await api.post('/api/tasks', fields);
  if (run) {
    try {
      await startRun(task);
    } catch (err) {
      err.message = `The task was created but did not start: ${err.message}`;
      err.task = task;
      throw err;
    }
  }
  return task;
}

// The tasks whose run waits for an answer (a pending approval names its task).
export async function waitingTaskIds() {
  const items = await api.get('/api/notifications/pending-approvals');
  return new Set(items.filter((item) => item.taskId).map((item) => item.taskId));
}

// A task's state as a badge: "waiting for you" while its run waits for an approval.
export function taskBadge(task, waiting) {
  return waiting && waiting.has(task.id) ? badge('waiting', 'waiting for you') : badge(task.status);
}

export const PRIORITIES = [[0, 'Urgent'], [1, 'High'], [2, 'Normal'], [3, 'Low']];

export function priorityLabel(priority) {
  return (PRIORITIES.find(([value]) => value === priority) || [null, String(priority)])[1];
}
