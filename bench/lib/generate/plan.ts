/** Which log files the trail has: for each, its account, region, time window, size and delivery time. */
import { ALNUM, charsFrom, clampInt, hash, makePicker, pickFrom, Rng } from './random.ts';
import type { World } from './world.ts';

export interface FilePlan {
  seed: number;
  acct: number;
  region: number;
  t0: number;
  win: number;
  size: number;
  delivered: number;
  suffix: string;
  oldest: number;
  newest: number;
}

/** Relative activity by UTC hour (US + EU business hours) and a quieter weekend. */
const HOURLY = [0.35, 0.3, 0.25, 0.22, 0.2, 0.2, 0.25, 0.35, 0.5, 0.65, 0.75, 0.8, 0.85, 0.95, 1, 1, 1, 0.95, 0.9, 0.85, 0.75, 0.65, 0.55, 0.45];

function activityAt(sec: number): number {
  const d = new Date(sec * 1000);
  const weekend = d.getUTCDay() === 0 || d.getUTCDay() === 6;
  return HOURLY[d.getUTCHours()] * (weekend ? 0.45 : 1);
}

export function makePlan(W: World): FilePlan[] {
  const settings = W.settings;
  const r = new Rng(settings.seed, 2);
  const period = settings.endSec - settings.startSec;
  const win = Math.min(300, period);
  // Log-normal sizes with the requested mean (median ~ 0.73 x mean), 1..1500 records.
  const sigma = 0.8;
  const median = settings.recordsPerFile / Math.exp((sigma * sigma) / 2);
  const sizes: number[] = [];
  let left = settings.count;
  while (left > 0) {
    const n = Math.min(left, clampInt(median * Math.exp(sigma * r.normal()), 1, 1500));
    sizes.push(n);
    left -= n;
  }
  // Streams (account x region) weighted by account activity and region popularity.
  const streams: Array<{ a: number; ri: number; w: number }> = [];
  W.regions.forEach((region, ri) => {
    const rw = (region === 'us-east-1' ? 1.6 : 1) / (ri + 1) ** 0.7;
    for (const a of W.accounts) if (a.pick[W.regionClass[ri]]) streams.push({ a: a.i, ri, w: a.activity * rw });
  });
  if (streams.length === 0 && settings.count > 0) throw new Error('generate: no account can produce events');
  const sp = makePicker(streams, (s) => s.w);
  const plan: FilePlan[] = sizes.map((size, i) => {
    const s = pickFrom(sp, r.f());
    let t0 = settings.startSec;
    for (let tries = 0; tries < 20; tries++) {
      t0 = settings.startSec + Math.floor(r.f() * (period - win + 1));
      if (r.f() < activityAt(t0)) break;
    }
    const delivered = t0 + win + 30 + r.int(300);
    return {
      seed: hash(settings.seed, 0xf11e, i), acct: s.a, region: s.ri, t0, win, size, delivered,
      suffix: charsFrom(r, ALNUM, 16), oldest: 0, newest: 0,
    };
  });
  plan.sort((x, y) => x.t0 - y.t0 || x.seed - y.seed);
  return plan;
}
