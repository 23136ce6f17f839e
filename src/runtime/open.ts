import type { Config } from '../config/index.ts';
import type { Store } from '../store/index.ts';
import { openBullQueue } from './bullmq.ts';
import { openInlineQueue } from './inline.ts';
import type { JobQueue } from './queue.ts';

/** The queue the configuration asks for: Redis (REDIS_URL), PostgreSQL (TRAILBOT_QUEUE=postgres) or inline. */
export async function openQueue(config: Pick<Config, 'queue' | 'redisUrl' | 'databaseUrl'>, store: Store): Promise<JobQueue> {
  const { backend, name } = config.queue;
  if (backend === 'redis') return openBullQueue(name, { kind: 'redis', url: config.redisUrl! });
  if (backend === 'postgres') return openBullQueue(name, { kind: 'postgres', url: config.databaseUrl! });
  return openInlineQueue(store.db, name);
}
