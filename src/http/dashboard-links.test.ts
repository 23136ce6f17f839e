import { describe, expect, it } from 'vitest';
import { EVENT_FILTERS, eventsPath, eventsQuery, eventsUrl, findingUrl, readEventFilters } from './dashboard-links.ts';

describe('dashboard links', () => {
  it('writes the filters in one order, leaves empty ones out, and reads back what it wrote', () => {
    const f = { until: '2024-08-02T00:00:00.000Z', person: 'alana@corp.example', via: 'console', writes: true, outcome: 'denied', region: 'eu-west-1', since: '2024-08-01T00:00:00.000Z', resource: '' } as const;
    const q = eventsQuery(f);
    expect(q).toBe('?person=alana%40corp.example&region=eu-west-1&outcome=denied&via=console&writes=1&since=2024-08-01T00%3A00%3A00.000Z&until=2024-08-02T00%3A00%3A00.000Z');
    const back = readEventFilters(Object.fromEntries(new URLSearchParams(q)));
    expect(back).toMatchObject({ person: 'alana@corp.example', via: 'console', writes: true, outcome: 'denied', region: 'eu-west-1', since: f.since, until: f.until, resource: undefined });
    expect(Object.keys(back).sort()).toEqual([...EVENT_FILTERS].sort());
  });

  it('builds paths for the page itself and URLs at PUBLIC_URL (a trailing slash or not)', () => {
    expect(eventsPath({})).toBe('/');
    expect(eventsPath({ writes: false, person: undefined })).toBe('/');
    expect(eventsPath({ action: 'DeleteBucket' }, 'abc')).toBe('/?action=DeleteBucket&cursor=abc');
    expect(eventsUrl('https://trailbot.example.com/', { person: 'a b&c' })).toBe('https://trailbot.example.com/?person=a+b%26c');
    expect(findingUrl('https://trailbot.example.com', '0123abcd')).toBe('https://trailbot.example.com/?finding=0123abcd');
  });

  it('reads a checkbox as the form sends it, and values trimmed', () => {
    expect(readEventFilters({ writes: '1' }).writes).toBe(true);
    expect(readEventFilters({ writes: '' }).writes).toBe(false);
    expect(readEventFilters({ writes: '0' }).writes).toBe(false);
    expect(readEventFilters({}).writes).toBe(false);
    expect(readEventFilters({ person: '  alana ', region: '  ' })).toMatchObject({ person: 'alana', region: undefined });
  });
});
