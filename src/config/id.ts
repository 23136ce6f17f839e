import { z } from 'zod';

/** The id of a source or a report in trailbot.config.yaml (`org-trail`), checked again where a job names one. */
export const configId = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'expected lower-case letters, digits and -, starting with a letter, e.g. org-trail');
