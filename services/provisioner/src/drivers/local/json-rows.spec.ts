import { toJsonRows } from './json-rows.js';

describe('toJsonRows', () => {
  it('turns driver values into JSON that survives a round trip unchanged', () => {
    const rows = toJsonRows([
      {
        at: new Date('2025-01-02T03:04:05.678Z'),
        bytes: Buffer.from([0xde, 0xad]),
        big: 12345678901234567890n,
        nan: Number.NaN,
        nested: { list: [new Date(0), null], n: 1 },
        missing: undefined,
        text: 'x',
      },
    ]);
    expect(rows).toEqual([
      {
        at: '2025-01-02T03:04:05.678Z',
        bytes: '\\xdead',
        big: '12345678901234567890',
        nan: 'NaN',
        nested: { list: ['1970-01-01T00:00:00.000Z', null], n: 1 },
        missing: null,
        text: 'x',
      },
    ]);
    expect(JSON.parse(JSON.stringify(rows))).toEqual(rows);
  });
});
