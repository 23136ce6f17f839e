// Every endpoint of the Jira stand-in, one entry each, grouped by what they serve. service.ts mounts
// them in this order behind its middleware (request log, latency, faults and Basic auth under /rest/).
import type { JiraRoute } from '../state.ts';
import { ADMIN_ROUTES } from './admin.ts';
import { COMMENT_ROUTES } from './comments.ts';
import { ISSUE_ROUTES } from './issues.ts';
import { PROPERTY_ROUTES } from './properties.ts';
import { SEARCH_ROUTES } from './search.ts';
import { SERVER_ROUTES } from './server.ts';
import { TRANSITION_ROUTES } from './transitions.ts';

/** Jira's REST v3 as trailbot uses it (and the paths refused on purpose). */
export const REST_ROUTES: readonly JiraRoute[] = [...SERVER_ROUTES, ...ISSUE_ROUTES, ...PROPERTY_ROUTES, ...COMMENT_ROUTES, ...TRANSITION_ROUTES, ...SEARCH_ROUTES];

/** The stand-in's own control paths (/__standin/…). */
export { ADMIN_ROUTES };
