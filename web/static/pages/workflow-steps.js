// How a workflow's steps read, pattern by pattern (docs/decisions/013-workflows.md): the same
// field fallbacks and run order as the engine, and which role each step plays.

export const PATTERNS = [
  ['sequence', 'Sequence', 'One step after another; each sees the previous step’s output.'],
  ['checkpoint', 'Checkpoint', 'A sequence that stops for your approval before the steps you mark.'],
  ['planner-executor', 'Planner and executors', 'The first step plans; the others carry the plan out.'],
  ['parallel', 'Parallel', 'Branches run side by side; the last step combines their outputs.'],
  ['loop', 'Loop', 'One prompt runs again and again until the agent says it is done.'],
  ['swarm', 'Swarm', 'A mayor splits the work, workers do it side by side, a refinery merges it.'],
];

// `definition` is JSON text in the API's answers; a broken one reads as empty.
export function definitionOf(value) {
  try {
    const definition = typeof value === 'string' ? JSON.parse(value) : value;
    return definition && typeof definition === 'object' ? definition : {};
  } catch {
    return {};
  }
}

// A step's fields may also live in Stan's `config` (prompt, profile, model); the step's own wins.
export function stepPrompt(step) {
  return step.prompt || step.config?.prompt || '';
}

export function stepName(step) {
  return step.name || step.id || 'Step';
}

export function isGate(step) {
  return step.type === 'approval' || step.requiresApproval === true;
}

// Run order of the one-after-another patterns: as listed, except a step comes after the steps it
// depends on.
function ordered(steps) {
  const done = new Set();
  const order = [];
  let progress = true;
  while (progress) {
    progress = false;
    const next = steps.find((s) => !done.has(s.id) && (s.dependsOn || []).every((d) => done.has(d)));
    if (next) {
      done.add(next.id);
      order.push(next);
      progress = true;
    }
  }
  return order.length === steps.length ? order : steps;
}

// The steps in groups with a title, a hint and each step's role, as the pattern runs them.
export function stepsByRole(pattern, steps, definition = {}) {
  if (pattern === 'parallel') {
    const branches = steps.filter((s) => !(s.dependsOn || []).length);
    const joins = steps.filter((s) => (s.dependsOn || []).length);
    return [
      { title: `Branches (${branches.length})`, hint: 'Run side by side, three at a time.', steps: branches },
      { title: 'Synthesis', hint: 'Runs when every branch is done and combines their outputs.', steps: joins },
    ];
  }
  if (pattern === 'swarm' && steps.length >= 3) {
    const workers = steps.slice(1, -1);
    const limit = Math.min(Math.max(definition.swarmConfig?.workerConcurrencyLimit || 2, 1), workers.length);
    return [
      { title: 'Mayor', hint: 'Splits the goal into work for the workers.', steps: steps.slice(0, 1) },
      { title: `Workers (${workers.length})`, hint: `Each takes a part, ${limit} at a time.`, steps: workers },
      { title: 'Refinery', hint: 'Merges the workers’ results into one answer.', steps: steps.slice(-1) },
    ];
  }
  const hint = (PATTERNS.find(([id]) => id === pattern) || [])[2];
  const order = ordered(steps);
  const roles = pattern === 'planner-executor' ? order.map((_, i) => (i === 0 ? 'Planner' : 'Executor')) : null;
  return [{ title: null, hint, steps: order, roles }];
}
