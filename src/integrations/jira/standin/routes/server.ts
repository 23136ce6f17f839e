// The site itself: who the token is (myself), serverInfo (also answered anonymously), and the two
// refusals on purpose: /rest/api/2 (see README, "Deliberately not like Jira") and the removed search.
import { JiraApiError } from '../http.ts';
import { jiraTime, userJson } from '../site.ts';
import type { JiraRoute } from '../state.ts';

export const SERVER_ROUTES: readonly JiraRoute[] = [
  {
    method: 'ALL',
    path: '/rest/api/2/*',
    handle() {
      throw new JiraApiError(404, [
        'The stand-in serves only /rest/api/3. jira.js sends a rich-text field given as a string (wiki markup) to /rest/api/2; send an ADF document instead.',
      ]);
    },
  },
  {
    method: ['GET', 'POST'],
    path: '/rest/api/3/search',
    handle() {
      throw new JiraApiError(410, [
        'The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046',
      ]);
    },
  },
  {
    method: 'GET',
    path: '/rest/api/3/myself',
    handle: (c, s) =>
      c.json({
        ...userJson(s.base(), c.get('user')),
        locale: 'en_US',
        groups: { size: 1, items: [] },
        applicationRoles: { size: 1, items: [] },
        expand: 'groups,applicationRoles',
      }),
  },
  {
    method: 'GET',
    path: '/rest/api/3/serverInfo',
    handle: (c, s) =>
      c.json({
        baseUrl: s.base(),
        displayUrl: s.base(),
        version: '1001.0.0-SNAPSHOT',
        versionNumbers: [1001, 0, 0],
        deploymentType: 'Cloud',
        buildNumber: 100290,
        buildDate: '2026-01-05T00:00:00.000+0000',
        serverTime: jiraTime(s.clock()),
        scmInfo: 'standin',
        serverTitle: 'Jira (trailbot stand-in)',
        defaultLocale: { locale: 'en_US' },
        serverTimeZone: 'Etc/UTC',
      }),
  },
];
