// Issues: create, read, edit, assign, and link two issues. Create and edit share their field checks
// (fields.ts); every write reaches the search index later (state.touch) and sends its webhook.
import { invalidDocument } from '../adf.ts';
import { changelogItem, emitCreated, emitUpdated } from '../events.ts';
import { applyUpdate, checkFields, checkProperty } from '../fields.ts';
import { JiraApiError, NO_ISSUE, queryList, readObject } from '../http.ts';
import { issueJson, parseFieldList, parsePropertyList } from '../issue-json.ts';
import { LINK_TYPES, STATUSES } from '../site.ts';
import type { JiraRoute, StoredIssue } from '../state.ts';
import type { ChangelogItem } from '../webhooks.ts';
import { assign } from '../workflow.ts';

export const ISSUE_ROUTES: readonly JiraRoute[] = [
  {
    method: 'POST',
    path: '/rest/api/3/issue',
    async handle(c, s) {
      const body = await readObject(c);
      const fields = body.fields as Record<string, unknown> | undefined;
      if (!fields || typeof fields !== 'object') throw new JiraApiError(400, [], { project: 'Specify a valid project ID or key', summary: 'You must specify a summary of the issue.', issuetype: 'Specify an issue type' });
      const errors: Record<string, string> = {};
      const pref = (fields.project ?? {}) as { key?: unknown; id?: unknown };
      const project = s.site.projects.find((p) => (pref.id !== undefined ? p.id === String(pref.id) : typeof pref.key === 'string' && p.key === pref.key.toUpperCase()));
      if (!project) {
        errors.project = 'Specify a valid project ID or key';
        throw new JiraApiError(400, [], errors);
      }
      const tref = fields.issuetype as { name?: unknown; id?: unknown } | undefined;
      const issueType = tref ? project.issueTypes.find((t) => (tref.id !== undefined ? t.id === String(tref.id) : t.name === tref.name)) : undefined;
      if (!tref) errors.issuetype = 'Specify an issue type';
      else if (!issueType) errors.issuetype = 'The issue type selected is invalid.';
      if (!('summary' in fields)) errors.summary = 'You must specify a summary of the issue.';
      const ch = checkFields(s, fields, project, errors, true);
      const updLabels = applyUpdate(body.update, ch.labels ?? [], errors);
      const props = (body.properties ?? []) as { key?: unknown; value?: unknown }[];
      if (!Array.isArray(props)) throw new JiraApiError(400, ['properties must be an array of {key, value}.']);
      for (const p of props) checkProperty(p.key, p.value);
      if (body.transition !== undefined) errors.transition = 'The stand-in does not run a transition on create; create, then POST /transitions.';
      if (Object.keys(errors).length > 0) throw new JiraApiError(400, [], errors);

      const now = s.clock();
      const key = s.nextKey(project);
      const user = c.get('user');
      const i: StoredIssue = {
        id: s.nextId('issue'),
        key,
        projectId: project.id,
        issueTypeId: issueType!.id,
        summary: ch.summary!,
        description: ch.description ?? null,
        labels: updLabels ?? ch.labels ?? [],
        priorityId: ch.priorityId ?? (s.priorityOnScreen(project) ? s.site.defaultPriority.id : undefined),
        assigneeId: ch.assigneeId ?? undefined,
        reporterId: ch.reporterId ?? user.accountId,
        creatorId: user.accountId,
        componentIds: ch.componentIds ?? [],
        statusId: STATUSES[0]!.id,
        created: now,
        updated: now,
        statusCategoryChanged: now,
        properties: new Map(props.map((p) => [p.key as string, structuredClone(p.value)])),
        comments: [],
        versions: [],
      };
      s.add(i);
      s.touch(i);
      emitCreated(s, i, user, now);
      return c.json({ id: i.id, key: i.key, self: `${s.base()}/rest/api/3/issue/${i.id}` }, 201);
    },
  },
  {
    method: 'GET',
    path: '/rest/api/3/issue/:key',
    handle(c, s) {
      const i = s.mustIssue(c.req.param('key')!);
      return c.json(issueJson(s, i, parseFieldList(queryList(c, 'fields')), parsePropertyList(queryList(c, 'properties'), i)));
    },
  },
  {
    method: 'PUT',
    path: '/rest/api/3/issue/:key',
    async handle(c, s) {
      const i = s.mustIssue(c.req.param('key')!);
      const body = await readObject(c);
      const errors: Record<string, string> = {};
      const ch = checkFields(s, (body.fields ?? {}) as Record<string, unknown>, s.projectOf(i), errors, false);
      const labels = applyUpdate(body.update, ch.labels ?? i.labels, errors);
      if (Object.keys(errors).length > 0) throw new JiraApiError(400, [], errors);
      const actor = c.get('user');
      const items: ChangelogItem[] = [];
      if (ch.summary !== undefined && ch.summary !== i.summary) {
        items.push(changelogItem('summary', null, i.summary, null, ch.summary));
        i.summary = ch.summary;
      }
      if (ch.description !== undefined) {
        items.push(changelogItem('description', null, null, null, null));
        i.description = ch.description;
      }
      const newLabels = labels ?? ch.labels;
      if (newLabels && newLabels.join(' ') !== i.labels.join(' ')) {
        items.push(changelogItem('labels', null, i.labels.join(' '), null, newLabels.join(' ')));
        i.labels = newLabels;
      }
      if (ch.priorityId !== undefined && ch.priorityId !== i.priorityId) {
        const [a, b] = [s.site.priorities.find((p) => p.id === i.priorityId), s.site.priorities.find((p) => p.id === ch.priorityId)];
        items.push(changelogItem('priority', a?.id ?? null, a?.name ?? null, b?.id ?? null, b?.name ?? null));
        i.priorityId = ch.priorityId ?? undefined;
      }
      if (ch.componentIds !== undefined) {
        i.componentIds = ch.componentIds;
        items.push(changelogItem('Component', null, null, null, null));
      }
      if (ch.reporterId !== undefined) i.reporterId = ch.reporterId;
      if (items.length > 0 || ch.reporterId !== undefined) s.touch(i);
      emitUpdated(s, i, actor, 'issue_updated', items);
      if (ch.assigneeId !== undefined) assign(s, i, ch.assigneeId, actor);
      return c.body(null, 204);
    },
  },
  {
    method: 'PUT',
    path: '/rest/api/3/issue/:key/assignee',
    async handle(c, s) {
      const i = s.mustIssue(c.req.param('key')!);
      const body = await readObject(c);
      const id = body.accountId === '-1' ? null : (body.accountId as string | null | undefined);
      if (id === undefined) throw new JiraApiError(400, [], { accountId: 'Specify an accountId, or null to unassign.' });
      assign(s, i, id, c.get('user'));
      return c.body(null, 204);
    },
  },
  {
    method: 'POST',
    path: '/rest/api/3/issueLink',
    async handle(c, s) {
      const body = await readObject(c);
      const tref = (body.type ?? {}) as { name?: unknown; id?: unknown };
      const type = LINK_TYPES.find((t) => (tref.id !== undefined ? t.id === String(tref.id) : t.name === tref.name));
      if (!type) throw new JiraApiError(404, [`No issue link type with name '${String(tref.name ?? tref.id)}' found.`]);
      const ref = (r: unknown): StoredIssue => {
        const x = (r ?? {}) as { key?: unknown; id?: unknown };
        const found = s.findIssue(String(x.key ?? x.id ?? ''));
        if (!found) throw new JiraApiError(404, [NO_ISSUE]);
        return found;
      };
      const inward = ref(body.inwardIssue);
      const outward = ref(body.outwardIssue);
      if (inward.id === outward.id) throw new JiraApiError(400, ['You cannot link an issue to itself.']);
      if (!s.links.some((l) => l.typeId === type.id && l.inwardId === inward.id && l.outwardId === outward.id)) {
        s.links.push({ id: s.nextId('link'), typeId: type.id, inwardId: inward.id, outwardId: outward.id });
      }
      if (body.comment !== undefined) {
        const cb = (body.comment as { body?: unknown }).body;
        const refusal = invalidDocument(cb);
        if (refusal) throw new JiraApiError(400, [], { comment: refusal });
        const now = s.clock();
        inward.comments.push({ id: s.nextId('comment'), authorId: c.get('user').accountId, body: structuredClone(cb), created: now, updated: now });
      }
      return c.body(null, 201);
    },
  },
];
