// Every Web API method the stand-in serves, one entry each (its scope and its handler), grouped by
// what they serve. web-api.ts checks the token and the scope, then calls the entry.
import type { WebApiMethod } from '../state.ts';
import { CHAT_METHODS } from './chat.ts';
import { CONVERSATION_METHODS } from './conversations.ts';
import { FILE_METHODS } from './files.ts';
import { USERGROUP_METHODS } from './usergroups.ts';

export const WEB_API_METHODS: Readonly<Record<string, WebApiMethod>> = { ...CHAT_METHODS, ...CONVERSATION_METHODS, ...USERGROUP_METHODS, ...FILE_METHODS };
