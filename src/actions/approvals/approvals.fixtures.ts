// What the approvals plan and execute tests share: trailbot's IAM access to the AWS stand-ins through
// the real client, a store on a throwaway database, and deactivation targets.
import { createTestDatabase } from '../../../test/helpers/db.ts';
import type { IamPort } from '../../integrations/aws/iam.ts';
import { createIamAccess } from '../../integrations/aws/iam-access.ts';
import { DEFAULT_BASE_CREDENTIALS, type Standins, startStandins } from '../../integrations/aws/standins/index.ts';
import { openStore, type Store } from '../../store/index.ts';
import type { UserTarget } from './plan.ts';

/** The stand-ins' base account, where trailbot's own credentials are. */
export const BASE = DEFAULT_BASE_CREDENTIALS.accountId;

/** The IAM user `userName` of the base account, as a deactivation target. */
export const userTarget = (userName: string): UserTarget => ({ kind: 'iam-user', account: BASE, userName, arn: null, name: userName, email: null });

export interface ApprovalsTestbed {
  /** The AWS stand-ins, unthrottled. */
  aws: Standins;
  /** trailbot's IAM client into the base account (createIamAccess with the base credentials). */
  iam: IamPort;
  /** A store on a new throwaway database. */
  store: Store;
  /** Closes all of it and drops the database. */
  close(): Promise<void>;
}

/** Opens the stand-ins, trailbot's IAM access to them and a store on a new database named after `database`. */
export async function openApprovalsTestbed(database: string): Promise<ApprovalsTestbed> {
  const aws = await startStandins({ throttle: false });
  const access = createIamAccess({ config: { aws: { endpoints: { default: aws.url } }, accounts: [], sources: [] } as never, credentials: { accessKeyId: DEFAULT_BASE_CREDENTIALS.accessKeyId, secretAccessKey: DEFAULT_BASE_CREDENTIALS.secretAccessKey } });
  let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let iam: IamPort;
  let store: Store;
  try {
    iam = await access.forAccount(BASE);
    db = await createTestDatabase(database);
    store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  } catch (e) {
    access.destroy();
    await aws.close();
    await db?.drop();
    throw e;
  }
  const dropDb = db.drop;
  return {
    aws,
    iam,
    store,
    async close() {
      access.destroy();
      await aws.close();
      await store.close();
      await dropDb();
    },
  };
}
