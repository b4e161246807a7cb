// Every page, in nav order. A page module exports { nav: {label, path}, routes: {pattern: view} }.

import chat from './chat.js';
import documents from './documents.js';
import environment from './environment.js';
import home from './home.js';
import inbox from './inbox.js';
import memory from './memory.js';
import profiles from './profiles.js';
import projects from './projects.js';
import schedules from './schedules.js';
import settings from './settings.js';
import tables from './tables.js';
import tasks from './tasks.js';
import workflows from './workflows.js';

export const pages = [home, tasks, projects, chat, workflows, schedules, documents, tables, profiles, memory,
  environment, inbox, settings];
