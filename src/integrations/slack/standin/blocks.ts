// Block Kit as Slack checks it, for the limits that matter to trailbot (docs.slack.dev/reference/block-kit;
// node-slack-sdk packages/types/src/block-kit). A message Slack would refuse is refused here with Slack's
// error (`invalid_blocks`, `msg_blocks_too_long`) and `[ERROR] … [json-pointer:…]` lines as Slack words them.

export const BLOCK_LIMITS = {
  /** blocks in one message (100 in modals and Home tabs) */
  blocks: 50,
  /** a section's text */
  sectionText: 3000,
  /** a section's fields: how many, and each one's text */
  sectionFields: 10,
  fieldText: 2000,
  /** a header's plain_text */
  headerText: 150,
  /** context elements */
  contextElements: 10,
  /** interactive elements in one actions block */
  actionsElements: 25,
  /** a button's text, value, action_id and url */
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  buttonUrl: 3000,
  /** block_id, unique within the message */
  blockId: 255,
  /** a markdown block's text */
  markdownText: 12000,
  /** a message's top-level text (longer: msg_too_long) */
  messageText: 40000,
  /**
   * The text of all blocks together: Slack refuses more with msg_blocks_too_long although no single
   * limit is passed (about 13,200 characters, slackapi/bolt-js#2509); kept a little under that.
   */
  blocksTextTotal: 13000,
} as const;

export interface BlocksProblem {
  error: 'invalid_blocks' | 'invalid_blocks_format' | 'msg_blocks_too_long';
  messages: string[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a message's `blocks`; undefined when Slack would take them. */
export function blocksProblem(blocks: unknown): BlocksProblem | undefined {
  if (!Array.isArray(blocks)) return { error: 'invalid_blocks_format', messages: ['[ERROR] must provide an array [json-pointer:/blocks]'] };
  const errors: string[] = [];
  const err = (msg: string, pointer: string) => errors.push(`[ERROR] ${msg} [json-pointer:/blocks${pointer}]`);
  if (blocks.length > BLOCK_LIMITS.blocks) err(`no more than ${BLOCK_LIMITS.blocks} items allowed`, '');
  const blockIds = new Set<string>();
  let totalText = 0;

  const text = (t: unknown, at: string, max: number, types: readonly string[] = ['plain_text', 'mrkdwn']): void => {
    if (!isObject(t)) return void err('must be a text object', at);
    if (typeof t.type !== 'string' || !types.includes(t.type)) return void err(`must be one of ${types.join(', ')}`, `${at}/type`);
    if (typeof t.text !== 'string' || t.text.length === 0) return void err('must be more than 0 characters', `${at}/text`);
    if (t.text.length > max) err(`must be less than ${max + 1} characters`, `${at}/text`);
    totalText += t.text.length;
  };
  const button = (b: Json, at: string, actionIds: Set<string>): void => {
    text(b.text, `${at}/text`, BLOCK_LIMITS.buttonText, ['plain_text']);
    if (b.action_id !== undefined) {
      if (typeof b.action_id !== 'string' || b.action_id.length === 0 || b.action_id.length > BLOCK_LIMITS.actionId) err(`must be 1 to ${BLOCK_LIMITS.actionId} characters`, `${at}/action_id`);
      else if (actionIds.has(b.action_id)) err(`action_id ${b.action_id} is not unique in the block`, `${at}/action_id`);
      else actionIds.add(b.action_id);
    }
    if (b.value !== undefined && (typeof b.value !== 'string' || b.value.length > BLOCK_LIMITS.buttonValue)) err(`must be less than ${BLOCK_LIMITS.buttonValue + 1} characters`, `${at}/value`);
    if (b.url !== undefined && (typeof b.url !== 'string' || b.url.length > BLOCK_LIMITS.buttonUrl || !/^https?:\/\//.test(b.url))) err(`must be a URL of at most ${BLOCK_LIMITS.buttonUrl} characters`, `${at}/url`);
    if (b.style !== undefined && b.style !== 'primary' && b.style !== 'danger') err('must be one of primary, danger', `${at}/style`);
  };
  const element = (e: unknown, at: string, actionIds: Set<string>): void => {
    if (!isObject(e)) return void err('must be an object', at);
    if (e.type === 'button') button(e, at, actionIds);
    else if (e.type === 'image') {
      if (typeof e.image_url !== 'string' || typeof e.alt_text !== 'string') err('an image needs image_url and alt_text', at);
    } else err(`unsupported type: ${String(e.type)}`, `${at}/type`);
  };

  for (const [i, block] of blocks.entries()) {
    const at = `/${i}`;
    if (!isObject(block)) {
      err('must be an object', at);
      continue;
    }
    if (block.block_id !== undefined) {
      if (typeof block.block_id !== 'string' || block.block_id.length === 0 || block.block_id.length > BLOCK_LIMITS.blockId) err(`must be 1 to ${BLOCK_LIMITS.blockId} characters`, `${at}/block_id`);
      else if (blockIds.has(block.block_id)) err(`duplicate block_id ${block.block_id}`, `${at}/block_id`);
      else blockIds.add(block.block_id);
    }
    switch (block.type) {
      case 'section': {
        if (block.text === undefined && block.fields === undefined) err('must provide text or fields', at);
        if (block.text !== undefined) text(block.text, `${at}/text`, BLOCK_LIMITS.sectionText);
        if (block.fields !== undefined) {
          if (!Array.isArray(block.fields) || block.fields.length === 0 || block.fields.length > BLOCK_LIMITS.sectionFields) err(`must provide 1 to ${BLOCK_LIMITS.sectionFields} items`, `${at}/fields`);
          else for (const [j, f] of block.fields.entries()) text(f, `${at}/fields/${j}`, BLOCK_LIMITS.fieldText);
        }
        if (block.accessory !== undefined) element(block.accessory, `${at}/accessory`, new Set());
        break;
      }
      case 'header':
        text(block.text, `${at}/text`, BLOCK_LIMITS.headerText, ['plain_text']);
        break;
      case 'context': {
        const els = block.elements;
        if (!Array.isArray(els) || els.length === 0 || els.length > BLOCK_LIMITS.contextElements) err(`must provide 1 to ${BLOCK_LIMITS.contextElements} items`, `${at}/elements`);
        else
          els.forEach((e, j) => {
            if (isObject(e) && e.type === 'image') element(e, `${at}/elements/${j}`, new Set());
            else text(e, `${at}/elements/${j}`, BLOCK_LIMITS.sectionText);
          });
        break;
      }
      case 'actions': {
        const els = block.elements;
        const ids = new Set<string>();
        if (!Array.isArray(els) || els.length === 0 || els.length > BLOCK_LIMITS.actionsElements) err(`must provide 1 to ${BLOCK_LIMITS.actionsElements} items`, `${at}/elements`);
        else for (const [j, e] of els.entries()) element(e, `${at}/elements/${j}`, ids);
        break;
      }
      case 'divider':
        break;
      case 'markdown':
        if (typeof block.text !== 'string' || block.text.length === 0 || block.text.length > BLOCK_LIMITS.markdownText) err(`must be 1 to ${BLOCK_LIMITS.markdownText} characters`, `${at}/text`);
        else totalText += block.text.length;
        break;
      case 'image':
        element(block, at, new Set());
        break;
      case 'rich_text':
        if (!Array.isArray(block.elements)) err('must provide an array', `${at}/elements`);
        break;
      default:
        err(`unsupported type: ${String(block.type)}`, `${at}/type`);
    }
  }
  if (errors.length) return { error: 'invalid_blocks', messages: errors };
  if (totalText > BLOCK_LIMITS.blocksTextTotal) return { error: 'msg_blocks_too_long', messages: [`[ERROR] the blocks hold ${totalText} characters of text, more than Slack takes in one message`] };
  return undefined;
}
