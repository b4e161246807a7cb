"""Agent profiles: what they are (schema), where they come from (registry), which one a task
gets (classifier), how one shapes a run (shaping), and the model-backed helpers (smoke tests,
assist). See docs/decisions/020-profiles.md."""
