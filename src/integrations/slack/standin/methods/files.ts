// Slack's external upload in three steps: files.getUploadURLExternal hands out an upload URL, the bytes
// are POSTed there (receiveUpload: pre-signed in Slack, no token), files.completeUploadExternal shares
// the file (with `channel_id`, as a message in that channel).
import type { Context } from 'hono';
import { isObject, json, SlackApiError, str } from '../http.ts';
import { channelFor, newMessage, post } from '../messages.ts';
import type { SlackState, WebApiMethod } from '../state.ts';

export const FILE_METHODS: Record<string, WebApiMethod> = {
  'files.getUploadURLExternal': {
    scope: 'files:write',
    handle(args, s) {
      const filename = str(args.filename);
      const length = Number(args.length);
      if (!filename || !Number.isInteger(length) || length <= 0) throw new SlackApiError('invalid_arguments');
      const id = s.newId('F');
      s.files.set(id, { id, filename, length, completed: false });
      return { upload_url: `${s.live.baseUrl}/upload/v1/${id}`, file_id: id };
    },
  },

  'files.completeUploadExternal': {
    scope: 'files:write',
    handle(args, s) {
      const list = typeof args.files === 'string' ? json(args.files, 'arguments') : args.files;
      if (!Array.isArray(list) || list.length === 0 || !list.every((f) => isObject(f) && typeof f.id === 'string')) throw new SlackApiError('invalid_arguments');
      const picked = (list as { id: string; title?: string }[]).map((f) => {
        const file = s.files.get(f.id);
        if (!file?.bytes) throw new SlackApiError('file_not_found');
        if (f.title) file.title = f.title;
        return file;
      });
      const channelId = str(args.channel_id) ?? str(args.channels);
      if (channelId) {
        const ch = channelFor(s, { channel: channelId }, 'channel', true);
        const comment = typeof args.initial_comment === 'string' ? args.initial_comment : '';
        const m = newMessage(s, ch, { text: comment }, { files: picked.map((f) => ({ id: f.id, name: f.filename, title: f.title ?? f.filename })) });
        post(ch, m, str(args.thread_ts), false);
        for (const f of picked) Object.assign(f, { channel: ch.id, comment });
      }
      for (const f of picked) f.completed = true;
      return { files: picked.map((f) => ({ id: f.id, name: f.filename, title: f.title ?? f.filename, size: f.bytes!.length })) };
    },
  },
};

/** POST /upload/v1/<file id>: the bytes of a file files.getUploadURLExternal announced (raw or multipart). */
export async function receiveUpload(c: Context, s: SlackState): Promise<Response> {
  const file = s.files.get(c.req.param('id') ?? '');
  if (!file) return c.text('file not found', 404);
  const type = (c.req.header('content-type') ?? '').toLowerCase();
  let bytes: Uint8Array;
  if (type.startsWith('multipart/form-data')) {
    const form = await c.req.raw.formData();
    const part = [...form.values()][0];
    bytes = part === undefined ? new Uint8Array() : typeof part === 'string' ? new TextEncoder().encode(part) : new Uint8Array(await part.arrayBuffer());
  } else {
    bytes = new Uint8Array(await c.req.arrayBuffer());
  }
  file.bytes = bytes;
  return c.text(`OK - ${bytes.length}`, 200);
}
