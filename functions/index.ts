/**
 * Entry point the Functions host loads (`main` in package.json): registers every definition of
 * `definitions.ts` with the v4 programming model. Settings are validated here, once, so a bad app
 * setting stops the app at start-up with a message naming it.
 */
import { app } from '@azure/functions';
import { getSettings } from '../shared/config';
import { FUNCTIONS } from './definitions';

getSettings();

for (const definition of FUNCTIONS) {
  if (definition.kind === 'http') {
    app.http(definition.name, { route: definition.route, methods: definition.methods, authLevel: 'function', handler: definition.handler });
  } else {
    app.timer(definition.name, { schedule: definition.schedule, handler: definition.handler });
  }
}
