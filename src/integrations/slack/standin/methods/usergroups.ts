// usergroups.users.list: who is in a user group (the approvers trailbot checks a click against).
import { SlackApiError, str } from '../http.ts';
import type { WebApiMethod } from '../state.ts';

export const USERGROUP_METHODS: Record<string, WebApiMethod> = {
  'usergroups.users.list': {
    scope: 'usergroups:read',
    handle(args, s) {
      const id = str(args.usergroup);
      const users = id ? s.groups.get(id) : undefined;
      if (!users) throw new SlackApiError('no_such_subteam');
      return { users: [...users] };
    },
  },
};
